package ai.fulgur.training.nn;

import ai.fulgur.ops.attention.BlockSparseLayout;

/**
 * Gives the block-sparse layout of a sequence that spans {@code queryBlocks} × {@code keyBlocks} blocks, so one
 * {@link BlockSparseMultiHeadAttention} serves every sequence length (a local + global or strided pattern is a rule,
 * not a fixed mask). The layout may cover more blocks than asked for, not fewer, and must describe 1 (shared) or
 * Hq heads.
 */
@FunctionalInterface
public interface LayoutProvider {

    /** The layout for {@code queryBlocks} × {@code keyBlocks} blocks of the attention's block size. */
    BlockSparseLayout layout(int queryBlocks, int keyBlocks);

    /** A provider that always returns {@code layout}, which then bounds the sequence length. */
    static LayoutProvider fixed(BlockSparseLayout layout) {
        if (layout == null) {
            throw new IllegalArgumentException("fixed layout is null");
        }
        return (queryBlocks, keyBlocks) -> layout;
    }
}
