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
        long c = checkLayerNorm("layerNorm", x, normalized, gamma, beta, eps);
        long r = x.numel() / Math.max(1, c);
        Tensor xr = x.contiguous().reshape(r, c);
        DType statType = x.dtype().isHalf() ? DType.F32 : x.dtype();
        Tensor y = Tensor.empty(xr.shape(), x.dtype(), x.device());
        Tensor mean = Tensor.empty(Shape.of(r), statType, x.device());
        Tensor rstd = Tensor.empty(Shape.of(r), statType, x.device());
        Backends.of(x).norm().layerNormForward(y, mean, rstd, xr, flat(gamma, c), flat(beta, c), eps);
        return new LayerNormResult(y.reshape(x.shape()), mean, rstd);
    }

    /** Gradients of {@link #layerNormForward} given dy and the saved statistics. */
    public static LayerNormGrads layerNormBackward(Tensor dy, Tensor x, Shape normalized, Tensor mean, Tensor rstd,
            Tensor gamma, boolean affine) {
        Checks.sameShape("layerNormBackward", "dy", dy, "x", x);
        long c = normalized.numel();
        long r = x.numel() / Math.max(1, c);
        Tensor dx = Tensor.empty(Shape.of(r, c), x.dtype(), x.device());
        Tensor dgamma = affine ? Tensor.empty(Shape.of(c), x.dtype(), x.device()) : null;
        Tensor dbeta = affine ? Tensor.empty(Shape.of(c), x.dtype(), x.device()) : null;
        Backends.of(x).norm().layerNormBackward(dx, dgamma, dbeta, dy.contiguous().reshape(r, c),
                x.contiguous().reshape(r, c), mean, rstd, flat(gamma, c));
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
