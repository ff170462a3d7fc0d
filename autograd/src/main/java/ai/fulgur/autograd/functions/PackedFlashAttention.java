package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Autocast;
import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.Attention;
import ai.fulgur.ops.attention.AttentionSpec;

/**
 * FlashAttention over one packed projection: qkv (B, N, Hq + 2·Hkv, D), the fused QKV Linear's output viewed by
 * heads, where heads [0, Hq) are the queries, [Hq, Hq + Hkv) the keys and the rest the values. The output is
 * o (B, N, Hq, D), as {@link FlashAttention} over the three views.
 *
 * <p>Why a function of its own: with three slice views the backward pass builds the packed gradient from three
 * zero tensors of the packed size, three strided copies of dq, dk, dv into them and two adds (for GPT-2 124M at
 * B·N = 8192, about 0.3 ms a layer). Here backward hands the kernels the three head ranges of one uninitialised
 * packed gradient, which they overwrite: no fill, no copy, no sum.
 */
public final class PackedFlashAttention extends Function {
    private final AttentionSpec spec;
    private final long queryHeads;
    private final long kvHeads;

    private PackedFlashAttention(AttentionSpec spec, long queryHeads, long kvHeads) {
        this.spec = spec;
        this.queryHeads = queryHeads;
        this.kvHeads = kvHeads;
    }

    /**
     * Attention over the packed heads of {@code qkv} (B, N, Hq + 2·Hkv, D), dense or masked as {@code spec} says
     * (block-sparse layouts are taken by {@link BlockSparseAttention} over views instead).
     *
     * @throws IllegalArgumentException when qkv is not rank 4 with Hq + 2·Hkv heads, or spec has a block-sparse layout
     */
    public static Variable apply(Variable qkv, long queryHeads, long kvHeads, AttentionSpec spec) {
        if (qkv.shape().rank() != 4 || queryHeads <= 0 || kvHeads <= 0
                || qkv.shape().dim(2) != queryHeads + 2 * kvHeads) {
            throw new IllegalArgumentException("packed attention: qkv must be (B, N, Hq + 2·Hkv, D) with Hq = "
                    + queryHeads + " and Hkv = " + kvHeads + " (heads " + (queryHeads + 2 * kvHeads) + "), got "
                    + qkv.shape());
        }
        if (spec.layout() != null) {
            throw new IllegalArgumentException("packed attention is dense (or masked) attention; a block-sparse "
                    + "layout goes to BlockSparseAttention over q, k, v views, got " + spec.layout());
        }
        PackedFlashAttention fn = new PackedFlashAttention(spec, queryHeads, kvHeads);
        Variable packed = Autocast.toHalf(qkv); // tiles on tensor cores in the scope's half type, as FlashAttention
        Tensor[] heads = fn.split(packed.data());
        Attention.Forward f = Attention.flashForward(heads[0], heads[1], heads[2], spec);
        Variable result = fn.record(f.out(), packed);
        if (!result.isLeaf()) {
            fn.saveForBackward(packed, result);
            fn.saveInternals(f.lse());
        }
        return result;
    }

    /** q, k, v: the three head ranges of a packed (B, N, Hq + 2·Hkv, D) tensor, as views. */
    private Tensor[] split(Tensor packed) {
        return new Tensor[] {packed.slice(2, 0, queryHeads), packed.slice(2, queryHeads, queryHeads + kvHeads),
            packed.slice(2, queryHeads + kvHeads, queryHeads + 2 * kvHeads)};
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor packed = saved(0);
        Tensor[] heads = split(packed);
        Tensor dqkv = Tensor.empty(packed.shape(), packed.dtype(), packed.device());
        Tensor[] grads = split(dqkv);
        Attention.flashBackward(grads[0], grads[1], grads[2], g, heads[0], heads[1], heads[2], saved(1),
                internal(0), spec);
        return new Tensor[] {dqkv};
    }
}
