package ai.fulgur.training.nn;

import ai.fulgur.ops.attention.BlockSparseLayout;

/**
 * Dense multi-head self-attention: FlashAttention on the Fulgur engine, the same function composed from standard
 * NDArray ops on any other engine. Shapes, children and options are described in {@link AbstractMultiHeadAttention}:
 * x (B, N, C) and an optional right-padding key mask (B, N) in, y (B, N, C) out; a fused {@code qkv} Linear with
 * (Hq + 2·Hkv)·C/Hq units and an {@code out} Linear with C units. The op alone is
 * {@link AbstractMultiHeadAttention#attention}.
 *
 * <pre>{@code
 * Block attention = FlashMultiHeadAttention.builder().setNumHeads(12).optCausal(true).build();
 * }</pre>
 */
public final class FlashMultiHeadAttention extends AbstractMultiHeadAttention {

    private FlashMultiHeadAttention(Builder builder) {
        super(builder);
    }

    /** A builder; {@link Builder#setNumHeads} is required. */
    public static Builder builder() {
        return new Builder();
    }

    /** {@inheritDoc} Always null: every tile is computed. */
    @Override
    protected BlockSparseLayout layout(long queries, long keys) {
        return null;
    }

    /** The builder of {@link FlashMultiHeadAttention}. */
    public static final class Builder extends BaseBuilder<Builder> {
        Builder() {}

        /** {@inheritDoc} */
        @Override
        protected Builder self() {
            return this;
        }

        /** Builds the block; fails for an invalid option. */
        public FlashMultiHeadAttention build() {
            return new FlashMultiHeadAttention(this);
        }
    }
}
