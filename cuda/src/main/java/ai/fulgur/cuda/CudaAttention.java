package ai.fulgur.cuda;

import ai.fulgur.ops.Tensor;

/** Placeholder until the CUDA kernels of this family land: every method says so instead of computing. */
final class CudaAttention implements ai.fulgur.ops.attention.AttentionKernels {

    private static UnsupportedOperationException notBuilt(String kernel) {
        return new UnsupportedOperationException("the CUDA kernel for " + kernel + " is not implemented yet; "
                + "run this op on the CPU");
    }

    @Override
    public void flashForward(Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v, ai.fulgur.ops.attention.AttentionSpec spec) {
        throw notBuilt("flashForward");
    }

    @Override
    public void flashBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, ai.fulgur.ops.attention.AttentionSpec spec) {
        throw notBuilt("flashBackward");
    }
}
