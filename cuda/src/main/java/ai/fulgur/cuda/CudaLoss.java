package ai.fulgur.cuda;

import ai.fulgur.ops.Tensor;

/** Placeholder until the CUDA kernels of this family land: every method says so instead of computing. */
final class CudaLoss implements ai.fulgur.ops.loss.LossKernels {

    private static UnsupportedOperationException notBuilt(String kernel) {
        return new UnsupportedOperationException("the CUDA kernel for " + kernel + " is not implemented yet; "
                + "run this op on the CPU");
    }

    @Override
    public void crossEntropyForward(Tensor losses, Tensor lse, Tensor logits, Tensor targets, long ignoreIndex) {
        throw notBuilt("crossEntropyForward");
    }

    @Override
    public void crossEntropyBackward(Tensor dlogits, Tensor dlosses, Tensor logits, Tensor lse, Tensor targets, long ignoreIndex) {
        throw notBuilt("crossEntropyBackward");
    }
}
