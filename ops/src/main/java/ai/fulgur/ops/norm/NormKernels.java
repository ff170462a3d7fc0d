package ai.fulgur.ops.norm;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
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

    /**
     * {@link #layerNormForward} of an F32 x (gamma, beta, mean, rstd F32) with y in BF16 or F16: the F32 result rounded
     * to y's type (autocast's layer norm before a GEMM). Default: the F32 kernel into a temporary, then a cast.
     */
    default void layerNormForwardHalfOut(Tensor y, Tensor mean, Tensor rstd, Tensor x, Tensor gamma, Tensor beta,
            double eps) {
        Tensor y32 = Tensor.empty(y.shape(), DType.F32, y.device());
        layerNormForward(y32, mean, rstd, x, gamma, beta, eps);
        Backends.of(y).elementwise().copy(y, y32);
    }

    /**
     * {@link #layerNormBackward} of an F32 x (dx, dgamma, dbeta, gamma, mean, rstd F32) from dy in BF16 or F16, widened
     * exactly. Default: widen dy into a temporary, then the F32 kernel.
     */
    default void layerNormBackwardHalfDy(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor mean,
            Tensor rstd, Tensor gamma) {
        Tensor dy32 = Tensor.empty(dy.shape(), DType.F32, dy.device());
        Backends.of(dy).elementwise().copy(dy32, dy);
        layerNormBackward(dx, dgamma, dbeta, dy32, x, mean, rstd, gamma);
    }
}
