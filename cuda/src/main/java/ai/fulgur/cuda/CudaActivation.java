package ai.fulgur.cuda;

import ai.fulgur.ops.Tensor;

/** Placeholder until the CUDA kernels of this family land: every method says so instead of computing. */
final class CudaActivation implements ai.fulgur.ops.activation.ActivationKernels {

    private static UnsupportedOperationException notBuilt(String kernel) {
        return new UnsupportedOperationException("the CUDA kernel for " + kernel + " is not implemented yet; "
                + "run this op on the CPU");
    }

    @Override
    public void softmaxForward(Tensor y, Tensor x, boolean log) {
        throw notBuilt("softmaxForward");
    }

    @Override
    public void softmaxBackward(Tensor dx, Tensor y, Tensor dy, boolean log) {
        throw notBuilt("softmaxBackward");
    }

    @Override
    public void geluForward(Tensor y, Tensor x, ai.fulgur.ops.activation.GeluForm form) {
        throw notBuilt("geluForward");
    }

    @Override
    public void geluBackward(Tensor dx, Tensor x, Tensor dy, ai.fulgur.ops.activation.GeluForm form) {
        throw notBuilt("geluBackward");
    }
}
