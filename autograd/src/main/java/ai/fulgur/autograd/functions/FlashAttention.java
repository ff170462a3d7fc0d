package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Autocast;
import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.Attention;
import ai.fulgur.ops.attention.AttentionSpec;

/**
 * Exact attention by tiling: o = softmax(q·kᵀ·scale, masked) · v for q (B, Nq, Hq, D) and k, v (B, Nk, Hkv, D); see
 * {@link AttentionSpec} for causal, window, padding, packing, dropout and grouped-query options.
 *
 * <p>Saves q, k, v, the output and the F32 row logsumexp (and, inside the spec, the dropout seed and offset), never
 * the Nq × Nk probabilities: backward recomputes them tile by tile.
 */
public class FlashAttention extends Function {
    private final AttentionSpec spec;

    FlashAttention(AttentionSpec spec) {
        this.spec = spec;
    }

    /** Attention with the given options on whatever device q is on. */
    public static Variable apply(Variable q, Variable k, Variable v, AttentionSpec spec) {
        return record(new FlashAttention(spec), q, k, v);
    }

    static Variable record(FlashAttention fn, Variable q, Variable k, Variable v) {
        q = Autocast.toHalf(q); // under autocast the tiles run on tensor cores in the scope's half type
        k = Autocast.toHalf(k);
        v = Autocast.toHalf(v);
        Attention.Forward f = Attention.flashForward(q.data(), k.data(), v.data(), fn.spec);
        Variable result = fn.record(f.out(), q, k, v);
        if (!result.isLeaf()) {
            fn.saveForBackward(q, k, v, result);
            fn.saveInternals(f.lse());
        }
        return result;
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Attention.Gradients grads = Attention.flashBackward(g, saved(0), saved(1), saved(2), saved(3), internal(0),
                spec);
        return new Tensor[] {needsGrad(0) ? grads.dq() : null, needsGrad(1) ? grads.dk() : null,
                needsGrad(2) ? grads.dv() : null};
    }
}
