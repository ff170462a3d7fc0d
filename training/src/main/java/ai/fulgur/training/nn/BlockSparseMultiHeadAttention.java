package ai.fulgur.training.nn;

import ai.fulgur.ops.attention.BlockSparseLayout;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Multi-head self-attention restricted to the tiles of a {@link BlockSparseLayout}: query block qb of head h attends
 * only to the key blocks set in the layout (and, within them, to what the causal, window and padding masks allow).
 * Blocks are {@code blockSize} × {@code blockSize} positions; a partial last block is cut by the sequence length.
 * Shapes, children and the other options are those of {@link FlashMultiHeadAttention} (see
 * {@link AbstractMultiHeadAttention}).
 *
 * <pre>{@code
 * Block attention = BlockSparseMultiHeadAttention.builder().setNumHeads(8).optCausal(true)
 *         .setLayout(64, (queryBlocks, keyBlocks) -> myPattern(queryBlocks, keyBlocks)).build();
 * }</pre>
 *
 * <p>On Fulgur it runs {@link ai.fulgur.autograd.functions.BlockSparseAttention}, whose work is proportional to the
 * number of set blocks; on other engines the layout is expanded to a position mask for {@link ComposedAttention}.
 * The layout is configuration, like the number of heads: it is not saved with the parameters.
 */
public final class BlockSparseMultiHeadAttention extends AbstractMultiHeadAttention {
    private final int blockSize;
    private final LayoutProvider provider;
    private final Map<Long, BlockSparseLayout> layouts = new ConcurrentHashMap<>(); // by (queryBlocks, keyBlocks)

    private BlockSparseMultiHeadAttention(Builder builder) {
        super(builder);
        this.blockSize = builder.blockSize;
        this.provider = builder.provider;
    }

    /** A builder; {@link Builder#setLayout(BlockSparseLayout)} or {@link Builder#setLayout(int, LayoutProvider)}. */
    public static Builder builder() {
        return new Builder();
    }

    /** Positions per block side. */
    public int getBlockSize() {
        return blockSize;
    }

    /** {@inheritDoc} The provider's layout for the sequence, checked against block size, coverage and heads. */
    @Override
    protected BlockSparseLayout layout(long queries, long keys) {
        int qb = BlockSparseLayout.blocksFor(queries, blockSize);
        int kb = BlockSparseLayout.blocksFor(keys, blockSize);
        return layouts.computeIfAbsent(((long) qb << 32) | kb, key -> checked(provider.layout(qb, kb), qb, kb));
    }

    private BlockSparseLayout checked(BlockSparseLayout layout, int qb, int kb) {
        if (layout == null) {
            throw new IllegalStateException("layout provider returned null for " + qb + " × " + kb + " blocks");
        }
        if (layout.blockSize() != blockSize) {
            throw new IllegalArgumentException("layout provider returned block size " + layout.blockSize()
                    + ", this attention uses " + blockSize);
        }
        if (layout.queryBlocks() < qb || layout.keyBlocks() < kb) {
            throw new IllegalArgumentException("the sequence spans " + qb + " × " + kb + " blocks of " + blockSize
                    + " but the layout covers " + layout.queryBlocks() + " × " + layout.keyBlocks()
                    + "; use a longer layout or a LayoutProvider that builds one per length");
        }
        if (layout.heads() != 1 && layout.heads() != getNumHeads()) {
            throw new IllegalArgumentException("layout describes " + layout.heads() + " heads, expected 1 (shared) or "
                    + getNumHeads());
        }
        return layout;
    }

    /** The builder of {@link BlockSparseMultiHeadAttention}: the dense options plus a layout. */
    public static final class Builder extends BaseBuilder<Builder> {
        private int blockSize;
        private LayoutProvider provider;

        Builder() {}

        /** Sets one layout for every call; sequences must fit in it (its block size is the block size). */
        public Builder setLayout(BlockSparseLayout layout) {
            if (layout == null) {
                throw new IllegalArgumentException("layout is null");
            }
            this.blockSize = layout.blockSize();
            this.provider = LayoutProvider.fixed(layout);
            return this;
        }

        /** Sets a rule giving the layout for each sequence's number of blocks of {@code blockSize} positions. */
        public Builder setLayout(int blockSize, LayoutProvider provider) {
            this.blockSize = blockSize;
            this.provider = provider;
            return this;
        }

        /** {@inheritDoc} */
        @Override
        protected Builder self() {
            return this;
        }

        /** {@inheritDoc} */
        @Override
        protected void validate() {
            super.validate();
            if (provider == null) {
                throw new IllegalArgumentException("block-sparse attention needs a layout: call setLayout");
            }
            if (blockSize <= 0) {
                throw new IllegalArgumentException("block size must be positive, got " + blockSize);
            }
        }

        /** Builds the block; fails for an invalid option or a missing layout. */
        public BlockSparseMultiHeadAttention build() {
            return new BlockSparseMultiHeadAttention(this);
        }
    }
}
