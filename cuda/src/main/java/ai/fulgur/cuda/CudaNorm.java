package ai.fulgur.cuda;

import ai.fulgur.ops.Tensor;

/** Placeholder until the CUDA kernels of this family land: every method says so instead of computing. */
final class CudaNorm implements ai.fulgur.ops.norm.NormKernels {

    private static UnsupportedOperationException notBuilt(String kernel) {
        return new UnsupportedOperationException("the CUDA kernel for " + kernel + " is not implemented yet; "
                + "run this op on the CPU");
    }

    @Override
    public void layerNormForward(Tensor y, Tensor mean, Tensor rstd, Tensor x, Tensor gamma, Tensor beta, double eps) {
        throw notBuilt("layerNormForward");
    }

    @Override
    public void layerNormBackward(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor gamma) {
        throw notBuilt("layerNormBackward");
    }
}
