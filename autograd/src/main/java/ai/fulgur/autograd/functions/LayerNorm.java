package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Autocast;
import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.norm.Norm;

/**
 * Layer normalisation over the trailing axes {@code normalized}, with optional gamma and beta of that shape. Saves x
 * and the per-row mean and rstd (not the normalised activations), as llm.c does.
 */
public final class LayerNorm extends Function {
    private final Shape normalized;
    private final boolean affine;

    private LayerNorm(Shape normalized, boolean affine) {
        this.normalized = normalized;
        this.affine = affine;
    }

    public static Variable apply(Variable x, Shape normalized, Variable gamma, Variable beta, double eps) {
        if ((gamma == null) != (beta == null)) {
            throw new IllegalArgumentException("layerNorm: give both gamma and beta or neither");
        }
        x = Autocast.toF32(x); // under autocast: statistics in F32, and the F32 gamma, beta apply as they are
        // read only by a GEMM (Autocast.forHalfReader): the output in the half type, as that GEMM's cast would make it
        DType half = Autocast.halfReaderOutput();
        DType out = half != null && x.dtype() == DType.F32 ? half : x.dtype();
        Norm.LayerNormResult r = Norm.layerNormForward(x.data(), normalized,
                gamma == null ? null : gamma.data(), beta == null ? null : beta.data(), eps, out);
        LayerNorm fn = new LayerNorm(normalized, gamma != null);
        Variable result = fn.record(r.y(), x, gamma, beta);
        if (!result.isLeaf()) {
            fn.saveForBackward(x, gamma);
            fn.saveInternals(r.mean(), r.rstd());
        }
        return result;
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Norm.LayerNormGrads grads = Norm.layerNormBackward(g, saved(0), normalized, internal(0), internal(1),
                affine ? saved(1) : null, affine && (needsGrad(1) || needsGrad(2)));
        return new Tensor[] {needsGrad(0) ? grads.dx() : null, grads.dgamma(), grads.dbeta()};
    }
}
