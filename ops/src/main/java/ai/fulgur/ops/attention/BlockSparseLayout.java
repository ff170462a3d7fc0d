package ai.fulgur.ops.attention;

import java.util.Arrays;

/**
 * Which (query block, key block) tiles of the attention matrix are computed, per head or shared by all heads. A block
 * is {@code blockSize} × {@code blockSize} positions; a zero block is skipped entirely, so the work of block-sparse
 * attention is proportional to the number of non-zero blocks.
 *
 * <p>The layout is kept both as the boolean mask and compressed, FlashAttention's block-sparse style: for each (head,
 * query block) the sorted key blocks to visit (the forward pass walks these), and for each (head, key block) the
 * query blocks that visit it (the backward pass, which owns key blocks, walks those).
 *
 * <p>Positions beyond the sequence length in a partial last block are handled by the kernels' bounds, not here.
 */
public final class BlockSparseLayout {
    private final int blockSize;
    private final int heads;            // 1 when shared by all heads
    private final int queryBlocks;
    private final int keyBlocks;
    private final boolean[] mask;       // [head][queryBlock][keyBlock]
    private final int[][] keysOfQuery;  // [head * queryBlocks + qb] -> sorted key blocks
    private final int[][] queriesOfKey; // [head * keyBlocks + kb] -> sorted query blocks

    /**
     * A layout from a boolean mask laid out [head][queryBlock][keyBlock].
     *
     * @param heads 1 for a layout shared by every head, else the number of query heads
     */
    public BlockSparseLayout(int blockSize, int heads, int queryBlocks, int keyBlocks, boolean[] mask) {
        if (blockSize <= 0 || heads <= 0 || queryBlocks <= 0 || keyBlocks <= 0) {
            throw new IllegalArgumentException("block-sparse layout needs positive blockSize, heads, queryBlocks and "
                    + "keyBlocks, got " + blockSize + ", " + heads + ", " + queryBlocks + ", " + keyBlocks);
        }
        if (mask.length != (long) heads * queryBlocks * keyBlocks) {
            throw new IllegalArgumentException("block-sparse mask has " + mask.length + " entries, expected heads "
                    + heads + " × query blocks " + queryBlocks + " × key blocks " + keyBlocks);
        }
        this.blockSize = blockSize;
        this.heads = heads;
        this.queryBlocks = queryBlocks;
        this.keyBlocks = keyBlocks;
        this.mask = mask.clone();
        this.keysOfQuery = new int[heads * queryBlocks][];
        this.queriesOfKey = new int[heads * keyBlocks][];
        for (int h = 0; h < heads; h++) {
            for (int qb = 0; qb < queryBlocks; qb++) {
                int[] list = new int[keyBlocks];
                int n = 0;
                for (int kb = 0; kb < keyBlocks; kb++) {
                    if (this.mask[(h * queryBlocks + qb) * keyBlocks + kb]) {
                        list[n++] = kb;
                    }
                }
                keysOfQuery[h * queryBlocks + qb] = Arrays.copyOf(list, n);
            }
            for (int kb = 0; kb < keyBlocks; kb++) {
                int[] list = new int[queryBlocks];
                int n = 0;
                for (int qb = 0; qb < queryBlocks; qb++) {
                    if (this.mask[(h * queryBlocks + qb) * keyBlocks + kb]) {
                        list[n++] = qb;
                    }
                }
                queriesOfKey[h * keyBlocks + kb] = Arrays.copyOf(list, n);
            }
        }
    }

    /** A layout with every block set (dense attention, through the sparse path). */
    public static BlockSparseLayout dense(int blockSize, int queryBlocks, int keyBlocks) {
        boolean[] m = new boolean[queryBlocks * keyBlocks];
        Arrays.fill(m, true);
        return new BlockSparseLayout(blockSize, 1, queryBlocks, keyBlocks, m);
    }

    /** Number of blocks needed to cover {@code length} positions. */
    public static int blocksFor(long length, int blockSize) {
        return Math.toIntExact((length + blockSize - 1) / blockSize);
    }

    public int blockSize() {
        return blockSize;
    }

    /** 1 if shared by all heads, else the number of heads it describes. */
    public int heads() {
        return heads;
    }

    public int queryBlocks() {
        return queryBlocks;
    }

    public int keyBlocks() {
        return keyBlocks;
    }

    /** Whether block (queryBlock, keyBlock) is computed for {@code head}. */
    public boolean isSet(int head, int queryBlock, int keyBlock) {
        int h = heads == 1 ? 0 : head;
        return mask[(h * queryBlocks + queryBlock) * keyBlocks + keyBlock];
    }

    /** The key blocks query block {@code queryBlock} of {@code head} visits, ascending. Do not modify. */
    public int[] keyBlocksOf(int head, int queryBlock) {
        return keysOfQuery[(heads == 1 ? 0 : head) * queryBlocks + queryBlock];
    }

    /** The query blocks that visit key block {@code keyBlock} of {@code head}, ascending. Do not modify. */
    public int[] queryBlocksOf(int head, int keyBlock) {
        return queriesOfKey[(heads == 1 ? 0 : head) * keyBlocks + keyBlock];
    }

    /** Fraction of blocks set, over all heads described. */
    public double density() {
        int set = 0;
        for (boolean b : mask) {
            if (b) {
                set++;
            }
        }
        return (double) set / mask.length;
    }

    /** The mask as a fresh array, [head][queryBlock][keyBlock]. */
    public boolean[] mask() {
        return mask.clone();
    }

    @Override
    public String toString() {
        return "BlockSparseLayout[block " + blockSize + ", heads " + heads + ", " + queryBlocks + "×" + keyBlocks
                + " blocks, density " + String.format("%.3f", density()) + "]";
    }
}
