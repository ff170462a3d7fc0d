package ai.fulgur.ops.norm;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Checks;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;

/** Layer normalisation over the trailing axes, forward and backward, over the backend's {@link NormKernels}. */
public final class Norm {
    private Norm() {}

    /** The forward result and the per-row statistics the backward pass needs. */
    public record LayerNormResult(Tensor y, Tensor mean, Tensor rstd) {}

    /** The three gradients of layer norm; dgamma and dbeta are null when gamma and beta were. */
    public record LayerNormGrads(Tensor dx, Tensor dgamma, Tensor dbeta) {}

    /**
     * y = (x − mean)/√(var + eps) · gamma + beta, normalising over the trailing axes given by {@code normalized}
     * (gamma and beta have that shape, or are null).
     */
    public static LayerNormResult layerNormForward(Tensor x, Shape normalized, Tensor gamma, Tensor beta, double eps) {
        return layerNormForward(x, normalized, gamma, beta, eps, x.dtype());
    }

    /**
     * As {@link #layerNormForward(Tensor, Shape, Tensor, Tensor, double)} with y in {@code outType}: x's own type, or
     * BF16/F16 for an F32 x (statistics and arithmetic in F32, y rounded once: autocast's layer norm before a GEMM,
     * without a separate cast). mean and rstd stay F32.
     *
     * @throws IllegalArgumentException for another outType, or a half outType with a non-F32 x
     */
    public static LayerNormResult layerNormForward(Tensor x, Shape normalized, Tensor gamma, Tensor beta, double eps,
            DType outType) {
        long c = checkLayerNorm("layerNorm", x, normalized, gamma, beta, eps);
        boolean halfOut = outType != x.dtype();
        if (halfOut && (x.dtype() != DType.F32 || !outType.isHalf())) {
            throw new IllegalArgumentException("layerNorm: the output type must be x's (" + x.dtype() + ") or, for an "
                    + "F32 x, BF16 or F16; got " + outType + " for " + Checks.describe("x", x));
        }
        long r = x.numel() / Math.max(1, c);
        Tensor xr = x.contiguous().reshape(r, c);
        DType statType = x.dtype().isHalf() ? DType.F32 : x.dtype();
        Tensor y = Tensor.empty(xr.shape(), outType, x.device());
        Tensor mean = Tensor.empty(Shape.of(r), statType, x.device());
        Tensor rstd = Tensor.empty(Shape.of(r), statType, x.device());
        if (halfOut) {
            Backends.of(x).norm().layerNormForwardHalfOut(y, mean, rstd, xr, flat(gamma, c), flat(beta, c), eps);
        } else {
            Backends.of(x).norm().layerNormForward(y, mean, rstd, xr, flat(gamma, c), flat(beta, c), eps);
        }
        return new LayerNormResult(y.reshape(x.shape()), mean, rstd);
    }

    /**
     * Gradients of {@link #layerNormForward} given dy and the saved statistics. dy has x's type, or BF16/F16 for an F32
     * x (the gradient of a half output): the gradients are then F32, dy widened inside the kernel.
     */
    public static LayerNormGrads layerNormBackward(Tensor dy, Tensor x, Shape normalized, Tensor mean, Tensor rstd,
            Tensor gamma, boolean affine) {
        Checks.sameShape("layerNormBackward", "dy", dy, "x", x);
        long c = normalized.numel();
        long r = x.numel() / Math.max(1, c);
        Tensor dx = Tensor.empty(Shape.of(r, c), x.dtype(), x.device());
        Tensor dgamma = affine ? Tensor.empty(Shape.of(c), x.dtype(), x.device()) : null;
        Tensor dbeta = affine ? Tensor.empty(Shape.of(c), x.dtype(), x.device()) : null;
        if (dy.dtype() != x.dtype()) {
            if (x.dtype() != DType.F32 || !dy.dtype().isHalf()) {
                throw new IllegalArgumentException("layerNormBackward: " + Checks.describe("dy", dy) + " must have x's "
                        + "type or, for an F32 x, be BF16 or F16; x is " + x.dtype());
            }
            Backends.of(x).norm().layerNormBackwardHalfDy(dx, dgamma, dbeta, dy.contiguous().reshape(r, c),
                    x.contiguous().reshape(r, c), mean, rstd, flat(gamma, c));
        } else {
            Backends.of(x).norm().layerNormBackward(dx, dgamma, dbeta, dy.contiguous().reshape(r, c),
                    x.contiguous().reshape(r, c), mean, rstd, flat(gamma, c));
        }
        return new LayerNormGrads(dx.reshape(x.shape()), dgamma == null ? null : dgamma.reshape(normalized),
                dbeta == null ? null : dbeta.reshape(normalized));
    }

    private static long checkLayerNorm(String op, Tensor x, Shape normalized, Tensor gamma, Tensor beta, double eps) {
        Checks.floating(op, "x", x);
        int k = normalized.rank();
        if (k == 0 || k > x.rank() || !x.shape().slice(x.rank() - k, x.rank()).equals(normalized)) {
            throw new IllegalArgumentException(op + ": normalized shape " + normalized + " must be the trailing axes of "
                    + Checks.describe("x", x));
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException(op + ": eps must be positive, got " + eps);
        }
        for (var named : new Object[][] {{"gamma", gamma}, {"beta", beta}}) {
            Tensor t = (Tensor) named[1];
            if (t != null) {
                Checks.shape(op, (String) named[0], t, normalized);
                Checks.sameDtype(op, "x", x, (String) named[0], t);
                Checks.sameDevice(op, "x", x, (String) named[0], t);
            }
        }
        return normalized.numel();
    }

    private static Tensor flat(Tensor t, long c) {
        return t == null ? null : t.contiguous().reshape(c);
    }
}
