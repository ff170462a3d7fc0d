package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.attention.AttentionSpec;
import ai.fulgur.ops.attention.BlockSparseLayout;

/**
 * FlashAttention restricted to the tiles of a {@link BlockSparseLayout}: zero blocks are never computed, forward or
 * backward. Saves the same tensors as {@link FlashAttention} (q, k, v, output, logsumexp), plus the layout.
 */
public final class BlockSparseAttention extends FlashAttention {

    private BlockSparseAttention(AttentionSpec spec) {
        super(spec);
    }

    /** Block-sparse attention over {@code layout}, with the other options of {@code spec}. */
    public static Variable apply(Variable q, Variable k, Variable v, BlockSparseLayout layout, AttentionSpec spec) {
        if (layout == null) {
            throw new IllegalArgumentException("block-sparse attention needs a layout; use FlashAttention for dense");
        }
        return record(new BlockSparseAttention(spec.withLayout(layout)), q, k, v);
    }
}
