package ai.fulgur.ops.attention;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Checks;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;

/**
 * FlashAttention and block-sparse FlashAttention, forward and backward: checks the operands against each other and
 * the {@link AttentionSpec}, allocates the results and runs the backend's {@link AttentionKernels}. See
 * {@link AttentionKernels} for the tensor layout and {@link AttentionSpec} for the masks.
 */
public final class Attention {
    /** The largest head dimension the kernels take. */
    public static final int MAX_HEAD_DIM = 256;

    private Attention() {}

    /** Output (q's shape) and the F32 row logsumexp (B, Hq, Nq), which the backward pass needs. */
    public record Forward(Tensor out, Tensor lse) {}

    /** Gradients of q, k and v. */
    public record Gradients(Tensor dq, Tensor dk, Tensor dv) {}

    public static Forward flashForward(Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        check(q, k, v, spec);
        Tensor out = Tensor.empty(q.shape(), q.dtype(), q.device());
        Tensor lse = Tensor.empty(Shape.of(q.shape().dim(0), q.shape().dim(2), q.shape().dim(1)), DType.F32,
                q.device());
        Backends.of(q).attention().flashForward(out, lse, unitLastStride(q), unitLastStride(k), unitLastStride(v),
                spec);
        return new Forward(out, lse);
    }

    public static Gradients flashBackward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse,
            AttentionSpec spec) {
        check(q, k, v, spec);
        Checks.sameShape("flashAttentionBackward", "dout", dout, "q", q);
        Checks.sameShape("flashAttentionBackward", "out", out, "q", q);
        Checks.sameDtype("flashAttentionBackward", "dout", dout, "q", q);
        Tensor dq = Tensor.empty(q.shape(), q.dtype(), q.device());
        Tensor dk = Tensor.empty(k.shape(), k.dtype(), k.device());
        Tensor dv = Tensor.empty(v.shape(), v.dtype(), v.device());
        Backends.of(q).attention().flashBackward(dq, dk, dv, unitLastStride(dout), unitLastStride(q),
                unitLastStride(k), unitLastStride(v), unitLastStride(out), lse.contiguous(), spec);
        return new Gradients(dq, dk, dv);
    }

    /**
     * As {@link #flashBackward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, AttentionSpec)}, writing dq, dk and dv
     * into given tensors (every element overwritten): views with unit stride on the head dim, such as the three head
     * ranges of one packed (B, N, Hq + 2·Hkv, D) gradient, which then needs no copies to assemble.
     *
     * @throws IllegalArgumentException when an output's shape or dtype differs from its input's, or its head dim is
     *                                  not unit-stride
     */
    public static void flashBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v,
            Tensor out, Tensor lse, AttentionSpec spec) {
        check(q, k, v, spec);
        Checks.sameShape("flashAttentionBackward", "dout", dout, "q", q);
        Checks.sameShape("flashAttentionBackward", "out", out, "q", q);
        Checks.sameDtype("flashAttentionBackward", "dout", dout, "q", q);
        Object[][] outputs = {{"dq", dq, "q", q}, {"dk", dk, "k", k}, {"dv", dv, "v", v}};
        for (Object[] o : outputs) {
            Tensor grad = (Tensor) o[1];
            Tensor in = (Tensor) o[3];
            Checks.sameShape("flashAttentionBackward", (String) o[0], grad, (String) o[2], in);
            Checks.sameDtype("flashAttentionBackward", (String) o[0], grad, (String) o[2], in);
            if (grad.stride(3) != 1 && grad.shape().dim(3) != 1) {
                throw new IllegalArgumentException("flashAttentionBackward: " + Checks.describe((String) o[0], grad)
                        + " must have stride 1 on the head dim (the kernels write whole head rows)");
            }
        }
        Backends.of(q).attention().flashBackward(dq, dk, dv, unitLastStride(dout), unitLastStride(q),
                unitLastStride(k), unitLastStride(v), unitLastStride(out), lse.contiguous(), spec);
    }

    /** A view with stride 1 on the head dimension, copying only when the tensor lacks it. */
    private static Tensor unitLastStride(Tensor t) {
        return t.stride(-1) == 1 || t.shape().last() == 1 ? t : t.contiguous();
    }

    static void check(Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        String op = "flashAttention";
        for (Object[] named : new Object[][] {{"q", q}, {"k", k}, {"v", v}}) {
            Tensor t = (Tensor) named[1];
            if (t.rank() != 4) {
                throw new IllegalArgumentException(op + ": " + Checks.describe((String) named[0], t)
                        + " must have rank 4 (batch, sequence, heads, headDim); pack a varlen batch as (1, total, "
                        + "heads, headDim)");
            }
        }
        Checks.floating(op, "q", q);
        if (q.dtype() == DType.F64) {
            throw new IllegalArgumentException(op + ": " + Checks.describe("q", q) + ": the kernels compute in F32 "
                    + "(inputs F32, BF16 or F16); cast F64 inputs, or use NaiveAttention for a float64 reference");
        }
        Checks.sameDtype(op, "q", q, "k", k);
        Checks.sameDtype(op, "q", q, "v", v);
        Checks.sameDevice(op, "q", q, "k", k);
        Checks.sameDevice(op, "q", q, "v", v);
        Checks.sameShape(op, "k", k, "v", v);
        long d = q.shape().dim(3);
        if (k.shape().dim(3) != d) {
            throw new IllegalArgumentException(op + ": head dims differ: " + Checks.describe("q", q) + ", "
                    + Checks.describe("k", k));
        }
        if (d < 1 || d > MAX_HEAD_DIM) {
            throw new IllegalArgumentException(op + ": head dim must be in [1, " + MAX_HEAD_DIM + "], got " + d);
        }
        if (q.shape().dim(0) != k.shape().dim(0)) {
            throw new IllegalArgumentException(op + ": batch sizes differ: " + Checks.describe("q", q) + ", "
                    + Checks.describe("k", k));
        }
        long hq = q.shape().dim(2);
        long hkv = k.shape().dim(2);
        if (hkv == 0 || hq % hkv != 0) {
            throw new IllegalArgumentException(op + ": key/value heads (" + hkv + ") must divide query heads (" + hq
                    + ") for grouped-query attention");
        }
        if (spec.isPacked() && q.shape().dim(0) != 1) {
            throw new IllegalArgumentException(op + ": a packed batch passes (1, total, heads, headDim) tensors, got "
                    + Checks.describe("q", q));
        }
        BlockSparseLayout layout = spec.layout();
        if (layout != null) {
            if (layout.heads() != 1 && layout.heads() != hq) {
                throw new IllegalArgumentException(op + ": block-sparse layout describes " + layout.heads()
                        + " heads, expected 1 (shared) or " + hq);
            }
            Sequences seqs = Sequences.of(q, k, spec);
            for (int s = 0; s < seqs.count(); s++) {
                int qb = BlockSparseLayout.blocksFor(seqs.nq()[s], layout.blockSize());
                int kb = BlockSparseLayout.blocksFor(seqs.nkAlign()[s], layout.blockSize());
                if (qb > layout.queryBlocks() || kb > layout.keyBlocks()) {
                    throw new IllegalArgumentException(op + ": sequence " + s + " has " + seqs.nq()[s] + " queries and "
                            + seqs.nkAlign()[s] + " keys (" + qb + " × " + kb + " blocks of " + layout.blockSize()
                            + ") but the layout covers " + layout.queryBlocks() + " × " + layout.keyBlocks());
                }
            }
        }
    }
}
