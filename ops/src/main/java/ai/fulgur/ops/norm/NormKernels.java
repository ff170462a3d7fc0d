package ai.fulgur.ops.norm;

import ai.fulgur.ops.Tensor;

/** Kernel SPI: layer normalisation over the last axis. Tensors are contiguous. */
public interface NormKernels {

    /**
     * y (R, C) = (x − mean) · rstd · gamma + beta per row, with mean (R) and rstd (R) = 1/√(var + eps) saved for the
     * backward pass (biased variance, as PyTorch). gamma and beta (C) may be null (no affine part). mean and rstd are
     * F32 for half inputs, else x's dtype.
     */
    void layerNormForward(Tensor y, Tensor mean, Tensor rstd, Tensor x, Tensor gamma, Tensor beta, double eps);

    /**
     * Writes dx (R, C) and, when not null, dgamma and dbeta (C), from dy, x and the saved mean and rstd. gamma may be
     * null (taken as ones).
     */
    void layerNormBackward(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor mean, Tensor rstd,
            Tensor gamma);
}
