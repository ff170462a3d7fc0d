package ai.fulgur.cuda;

import ai.fulgur.ops.Tensor;

/** Placeholder until the CUDA kernels of this family land: every method says so instead of computing. */
final class CudaOptim implements ai.fulgur.ops.optim.OptimKernels {

    private static UnsupportedOperationException notBuilt(String kernel) {
        return new UnsupportedOperationException("the CUDA kernel for " + kernel + " is not implemented yet; "
                + "run this op on the CPU");
    }

    @Override
    public void adamUpdate(Tensor w, Tensor g, Tensor m, Tensor v, ai.fulgur.ops.optim.AdamParams p) {
        throw notBuilt("adamUpdate");
    }

    @Override
    public void sgdUpdate(Tensor w, Tensor g, Tensor state, double lr, double weightDecay, double momentum, double rescaleGrad, double clipGrad) {
        throw notBuilt("sgdUpdate");
    }
}
