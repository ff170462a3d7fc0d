package ai.fulgur.cuda;

import ai.fulgur.ops.Tensor;

/** Placeholder until the CUDA kernels of this family land: every method says so instead of computing. */
final class CudaRandom implements ai.fulgur.ops.random.RandomKernels {

    private static UnsupportedOperationException notBuilt(String kernel) {
        return new UnsupportedOperationException("the CUDA kernel for " + kernel + " is not implemented yet; "
                + "run this op on the CPU");
    }

    @Override
    public void uniform(Tensor out, long seed, long offset, double low, double high) {
        throw notBuilt("uniform");
    }

    @Override
    public void normal(Tensor out, long seed, long offset, double mean, double std) {
        throw notBuilt("normal");
    }

    @Override
    public void dropoutForward(Tensor y, Tensor x, double p, long seed, long offset) {
        throw notBuilt("dropoutForward");
    }

    @Override
    public void dropoutBackward(Tensor dx, Tensor dy, double p, long seed, long offset) {
        throw notBuilt("dropoutBackward");
    }
}
