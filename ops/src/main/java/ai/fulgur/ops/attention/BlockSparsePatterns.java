package ai.fulgur.ops.attention;

import java.util.List;
import java.util.SplittableRandom;

/**
 * Ready-made {@link BlockSparseLayout}s: local + global (Longformer), strided and fixed (Sparse Transformer, Child et
 * al. 2019), BigBird (window + global + random) and butterfly. Every pattern is defined on block indices: query block
 * i, key block j, each block {@code blockSize} positions. The drawings below mark a computed block {@code #} and a
 * skipped one {@code .}, query blocks down, key blocks across.
 *
 * <p>Causal patterns keep only blocks on or below the block diagonal; pair them with {@code AttentionSpec.causal}
 * so that the diagonal blocks are masked inside as well. The block diagonal is counted in blocks: when the query and
 * key lengths differ and are not multiples of {@code blockSize}, it can sit one block off the element diagonal of
 * {@link AttentionSpec}'s bottom-right causal mask, so a few causally visible keys may fall outside the layout.
 * Per-head variants exist where heads can usefully differ (BigBird's random blocks, fixed's summary sub-blocks);
 * {@link #stack} builds a per-head layout from any shared ones.
 *
 * <p>Not here: patterns over positions rather than blocks, and the sizes to use; lengths are turned into block
 * counts with {@link BlockSparseLayout#blocksFor}.
 */
public final class BlockSparsePatterns {
    private BlockSparsePatterns() {}

    /**
     * Local window plus global blocks (Longformer's pattern, in blocks). Query block i sees the key blocks j with
     * |j − d(i)| ≤ windowBlocks around its diagonal block d(i) = i + (keyBlocks − queryBlocks) (bottom-right aligned,
     * as {@link AttentionSpec}'s causal mask; d(i) = i when square), only j ≤ d(i) when causal; every query block
     * sees the first {@code globalBlocks} key blocks, and the first {@code globalBlocks} query blocks see every key
     * block (causal: every key block up to their diagonal). Square and non-causal, the layout is symmetric.
     *
     * <pre>
     * 8 × 8 blocks, windowBlocks 1, globalBlocks 1:    the same, causal:
     *   # # # # # # # #                                  # . . . . . . .
     *   # # # . . . . .                                  # # . . . . . .
     *   # # # # . . . .                                  # # # . . . . .
     *   # . # # # . . .                                  # . # # . . . .
     *   # . . # # # . .                                  # . . # # . . .
     *   # . . . # # # .                                  # . . . # # . .
     *   # . . . . # # #                                  # . . . . # # .
     *   # . . . . . # #                                  # . . . . . # #
     * </pre>
     *
     * @param windowBlocks blocks on each side of the diagonal (≥ 0; 0 keeps only the diagonal)
     * @param globalBlocks leading blocks that see and are seen by every block (≥ 0)
     */
    public static BlockSparseLayout localGlobal(int blockSize, int queryBlocks, int keyBlocks, int windowBlocks,
            int globalBlocks, boolean causal) {
        positive("blockSize", blockSize);
        positive("queryBlocks", queryBlocks);
        positive("keyBlocks", keyBlocks);
        nonNegative("windowBlocks", windowBlocks);
        nonNegative("globalBlocks", globalBlocks);
        int shift = keyBlocks - queryBlocks;
        boolean[] mask = new boolean[cells(1, queryBlocks, keyBlocks)];
        for (int i = 0; i < queryBlocks; i++) {
            int diag = i + shift;
            for (int j = 0; j < keyBlocks; j++) {
                if (causal && j > diag) {
                    continue;
                }
                boolean local = Math.abs(j - diag) <= windowBlocks;
                boolean global = i < globalBlocks || j < globalBlocks;
                mask[i * keyBlocks + j] = local || global;
            }
        }
        return new BlockSparseLayout(blockSize, 1, queryBlocks, keyBlocks, mask);
    }

    /**
     * The Sparse Transformer's strided pattern on {@code blocks} × {@code blocks} blocks, both of its heads' sets
     * together: query block i sees the blocks j with |i − j| ≤ stride (the previous {@code stride} blocks and its
     * own) and every block whose distance |i − j| is a multiple of {@code stride}; only j ≤ i when causal. Without
     * causal the layout is symmetric. Suited to data with a period of {@code stride} blocks (images, audio).
     *
     * <pre>
     * 8 blocks, stride 2, causal:       not causal:
     *   # . . . . . . .                   # # # . # . # .
     *   # # . . . . . .                   # # # # . # . #
     *   # # # . . . . .                   # # # # # . # .
     *   . # # # . . . .                   . # # # # # . #
     *   # . # # # . . .                   # . # # # # # .
     *   . # . # # # . .                   . # . # # # # #
     *   # . # . # # # .                   # . # . # # # #
     *   . # . # . # # #                   . # . # . # # #
     * </pre>
     *
     * @param stride the local window and the period, in blocks (≥ 1)
     */
    public static BlockSparseLayout strided(int blockSize, int blocks, int stride, boolean causal) {
        positive("blockSize", blockSize);
        positive("blocks", blocks);
        positive("stride", stride);
        boolean[] mask = new boolean[cells(1, blocks, blocks)];
        for (int i = 0; i < blocks; i++) {
            for (int j = 0; j < blocks; j++) {
                int distance = i - j;
                if (causal && distance < 0) {
                    continue;
                }
                int a = Math.abs(distance);
                mask[i * blocks + j] = a <= stride || a % stride == 0;
            }
        }
        return new BlockSparseLayout(blockSize, 1, blocks, blocks, mask);
    }

    /**
     * The Sparse Transformer's fixed pattern on {@code blocks} × {@code blocks} blocks: the blocks are cut into chunks
     * of {@code stride}; query block i sees its own chunk and the last {@code summaryBlocks} blocks (the "summary")
     * of every earlier chunk; when causal only j ≤ i, and when not causal also the summary blocks of later chunks
     * (the paper's A(2) without the autoregressive restriction). A last partial chunk has summary blocks only where
     * j mod stride ≥ stride − summaryBlocks.
     *
     * <pre>
     * 8 blocks, stride 4, summaryBlocks 1, causal:     not causal:
     *   # . . . . . . .                                  # # # # . . . #
     *   # # . . . . . .                                  # # # # . . . #
     *   # # # . . . . .                                  # # # # . . . #
     *   # # # # . . . .                                  # # # # . . . #
     *   . . . # # . . .                                  . . . # # # # #
     *   . . . # # # . .                                  . . . # # # # #
     *   . . . # # # # .                                  . . . # # # # #
     *   . . . # # # # #                                  . . . # # # # #
     * </pre>
     *
     * @param stride        chunk length in blocks (≥ 1)
     * @param summaryBlocks summary blocks at the end of each chunk (1 ≤ summaryBlocks ≤ stride)
     */
    public static BlockSparseLayout fixed(int blockSize, int blocks, int stride, int summaryBlocks, boolean causal) {
        return fixed(blockSize, blocks, stride, summaryBlocks, causal, 1);
    }

    /**
     * {@link #fixed(int, int, int, int, boolean)} with one layout per head, the heads attending to distinct summary
     * sub-blocks as the paper recommends: head h uses the sub-block u = h mod (stride / summaryBlocks) counted from
     * the end of each chunk, the blocks with stride − (u + 1)·summaryBlocks ≤ j mod stride &lt; stride −
     * u·summaryBlocks. Head 0 is the single-head pattern.
     *
     * <pre>
     * 8 blocks, stride 4, summaryBlocks 2, causal, head 1 (u = 1):
     *   # . . . . . . .
     *   # # . . . . . .
     *   # # # . . . . .
     *   # # # # . . . .
     *   # # . . # . . .
     *   # # . . # # . .
     *   # # . . # # # .
     *   # # . . # # # #
     * </pre>
     */
    public static BlockSparseLayout fixed(int blockSize, int blocks, int stride, int summaryBlocks, boolean causal,
            int heads) {
        positive("blockSize", blockSize);
        positive("blocks", blocks);
        positive("stride", stride);
        positive("heads", heads);
        if (summaryBlocks < 1 || summaryBlocks > stride) {
            throw new IllegalArgumentException("summaryBlocks must be in [1, stride = " + stride + "], got "
                    + summaryBlocks);
        }
        int subBlocks = stride / summaryBlocks;
        boolean[] mask = new boolean[cells(heads, blocks, blocks)];
        for (int h = 0; h < heads; h++) {
            int u = h % subBlocks;
            int summaryFrom = stride - (u + 1) * summaryBlocks;
            int summaryTo = stride - u * summaryBlocks;
            for (int i = 0; i < blocks; i++) {
                for (int j = 0; j < blocks; j++) {
                    if (causal && j > i) {
                        continue;
                    }
                    boolean sameChunk = i / stride == j / stride;
                    int inChunk = j % stride;
                    boolean summary = inChunk >= summaryFrom && inChunk < summaryTo;
                    mask[(h * blocks + i) * blocks + j] = sameChunk || summary;
                }
            }
        }
        return new BlockSparseLayout(blockSize, heads, blocks, blocks, mask);
    }

    /**
     * BigBird (Zaheer et al. 2020), shared by all heads: a window of |i − j| ≤ windowBlocks, the first
     * {@code globalBlocks} rows and columns set, and for every other query block {@code randomBlocks} further key
     * blocks drawn uniformly without replacement from those not already set (all of them if fewer remain). The draw
     * uses {@link SplittableRandom} seeded with {@code seed}, so a seed always gives the same layout. Not causal.
     *
     * <pre>
     * 8 blocks, windowBlocks 1, globalBlocks 1, randomBlocks 1 (one possible draw; r marks the random blocks):
     *   # # # # # # # #
     *   # # # . . r . .
     *   # # # # . . . r
     *   # . # # # r . .
     *   # r . # # # . .
     *   # . r . # # # .
     *   # . . r . # # #
     *   # . r . . . # #
     * </pre>
     */
    public static BlockSparseLayout bigBird(int blockSize, int blocks, int windowBlocks, int globalBlocks,
            int randomBlocks, long seed) {
        return bigBird(blockSize, blocks, windowBlocks, globalBlocks, randomBlocks, 1, seed);
    }

    /**
     * {@link #bigBird(int, int, int, int, int, long)} with one layout per head: window and global blocks are the same
     * for every head, the random blocks are drawn afresh for each head (heads drawn in order from one generator, so
     * head 0 equals the shared layout of the same seed).
     */
    public static BlockSparseLayout bigBird(int blockSize, int blocks, int windowBlocks, int globalBlocks,
            int randomBlocks, int heads, long seed) {
        positive("blockSize", blockSize);
        positive("blocks", blocks);
        nonNegative("windowBlocks", windowBlocks);
        nonNegative("globalBlocks", globalBlocks);
        nonNegative("randomBlocks", randomBlocks);
        positive("heads", heads);
        SplittableRandom rnd = new SplittableRandom(seed);
        boolean[] mask = new boolean[cells(heads, blocks, blocks)];
        int[] candidates = new int[blocks];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < blocks; i++) {
                int row = (h * blocks + i) * blocks;
                int free = 0;
                for (int j = 0; j < blocks; j++) {
                    boolean set = Math.abs(i - j) <= windowBlocks || i < globalBlocks || j < globalBlocks;
                    mask[row + j] = set;
                    if (!set) {
                        candidates[free++] = j;
                    }
                }
                // partial Fisher–Yates: the first min(randomBlocks, free) candidates become a uniform sample
                int take = Math.min(randomBlocks, free);
                for (int t = 0; t < take; t++) {
                    int pick = t + rnd.nextInt(free - t);
                    int chosen = candidates[pick];
                    candidates[pick] = candidates[t];
                    candidates[t] = chosen;
                    mask[row + chosen] = true;
                }
            }
        }
        return new BlockSparseLayout(blockSize, heads, blocks, blocks, mask);
    }

    /**
     * The butterfly pattern (the FFT's communication graph, as in Pixelated Butterfly): block (i, j) is set iff i = j
     * or i XOR j is a power of two, so each block row holds log₂(blocks) + 1 blocks, the layout is symmetric and
     * information reaches every block in log₂(blocks) layers. {@code blocks} must be a power of two.
     *
     * <pre>
     * 8 blocks:
     *   # # # . # . . .
     *   # # . # . # . .
     *   # . # # . . # .
     *   . # # # . . . #
     *   # . . . # # # .
     *   . # . . # # . #
     *   . . # . # . # #
     *   . . . # . # # #
     * </pre>
     */
    public static BlockSparseLayout butterfly(int blockSize, int blocks) {
        positive("blockSize", blockSize);
        positive("blocks", blocks);
        if (Integer.bitCount(blocks) != 1) {
            throw new IllegalArgumentException("butterfly needs a power-of-two number of blocks, got " + blocks
                    + "; use " + Integer.highestOneBit(blocks) + " or " + (Integer.highestOneBit(blocks) << 1));
        }
        boolean[] mask = new boolean[cells(1, blocks, blocks)];
        for (int i = 0; i < blocks; i++) {
            for (int j = 0; j < blocks; j++) {
                mask[i * blocks + j] = i == j || Integer.bitCount(i ^ j) == 1;
            }
        }
        return new BlockSparseLayout(blockSize, 1, blocks, blocks, mask);
    }

    /**
     * One per-head layout from shared ones: head h of the result is {@code perHead.get(h)}. All must be shared (one
     * head) and have the same block size and block counts. Use it to give heads different patterns, e.g. the Sparse
     * Transformer's factorised heads (one local, one strided).
     */
    public static BlockSparseLayout stack(List<BlockSparseLayout> perHead) {
        if (perHead.isEmpty()) {
            throw new IllegalArgumentException("stack needs at least one layout, got none");
        }
        BlockSparseLayout first = perHead.get(0);
        int per = first.queryBlocks() * first.keyBlocks();
        boolean[] mask = new boolean[perHead.size() * per];
        for (int h = 0; h < perHead.size(); h++) {
            BlockSparseLayout l = perHead.get(h);
            if (l.heads() != 1 || l.blockSize() != first.blockSize() || l.queryBlocks() != first.queryBlocks()
                    || l.keyBlocks() != first.keyBlocks()) {
                throw new IllegalArgumentException("stack: layout " + h + " is " + l
                        + ", expected a shared layout like layout 0, " + first);
            }
            System.arraycopy(l.mask(), 0, mask, h * per, per);
        }
        return new BlockSparseLayout(first.blockSize(), perHead.size(), first.queryBlocks(), first.keyBlocks(), mask);
    }

    /** heads × queryBlocks × keyBlocks, or an error naming them when the mask would not fit an array. */
    private static int cells(int heads, int queryBlocks, int keyBlocks) {
        long n = (long) heads * queryBlocks * keyBlocks;
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a layout of " + heads + " heads × " + queryBlocks + " × " + keyBlocks
                    + " blocks has " + n + " cells, more than an array holds; use larger blocks");
        }
        return (int) n;
    }

    private static void positive(String name, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " must be positive, got " + value);
        }
    }

    private static void nonNegative(String name, int value) {
        if (value < 0) {
            throw new IllegalArgumentException(name + " must be >= 0, got " + value);
        }
    }
}
