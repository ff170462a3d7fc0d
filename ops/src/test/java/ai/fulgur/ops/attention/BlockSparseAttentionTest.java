package ai.fulgur.ops.attention;

import static ai.fulgur.ops.attention.AttentionAsserts.assertNear;
import static ai.fulgur.ops.attention.AttentionAsserts.checkAgainstReference;
import static ai.fulgur.ops.attention.AttentionAsserts.flash;
import static ai.fulgur.ops.attention.AttentionAsserts.operands;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionAsserts.Checked;
import ai.fulgur.ops.attention.AttentionAsserts.Flash;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Block-sparse FlashAttention (a {@link BlockSparseLayout} in the spec) against dense flash attention for a layout
 * with every block set, and against the float64 reference with the layout as an extra mask (which is what
 * {@link NaiveAttention#visible} applies) for random and patterned layouts, forward and backward.
 */
class BlockSparseAttentionTest {

    /** A random layout, each block set with probability {@code density}; block (0, 0..) of head 0 left empty. */
    private static BlockSparseLayout random(long seed, int block, int heads, int qBlocks, int kBlocks, double density) {
        SplittableRandom rnd = new SplittableRandom(seed);
        boolean[] mask = new boolean[heads * qBlocks * kBlocks];
        for (int i = 0; i < mask.length; i++) {
            mask[i] = rnd.nextDouble() < density;
        }
        for (int j = 0; j < kBlocks; j++) {
            mask[j] = false; // query block 0 of head 0 sees nothing: its rows must come out empty
        }
        return new BlockSparseLayout(block, heads, qBlocks, kBlocks, mask);
    }

    @ParameterizedTest(name = "block {0}, causal {1}")
    @CsvSource({"64, false", "64, true", "32, false", "32, true", "16, true"})
    void everyBlockSetEqualsDenseFlash(int block, boolean causal) {
        int n = 203;
        Tensor[] t = operands(block, DType.F32, 2, n, n, 4, 2, 64);
        AttentionSpec dense = AttentionSpec.dense(64).withCausal(causal);
        int blocks = BlockSparseLayout.blocksFor(n, block);
        AttentionSpec sparse = dense.withLayout(BlockSparseLayout.dense(block, blocks, blocks));
        Flash want = flash(t[0], t[1], t[2], t[3], dense);
        Flash got = flash(t[0], t[1], t[2], t[3], sparse);
        assertNear("out", want.out(), got.out(), 1e-6);
        assertNear("lse", want.lse(), got.lse(), 1e-6);
        assertNear("dq", want.dq(), got.dq(), 1e-6);
        assertNear("dk", want.dk(), got.dk(), 1e-6);
        assertNear("dv", want.dv(), got.dv(), 1e-6);
    }

    @ParameterizedTest(name = "block {0}, per head {1}, causal {2}, Nq {3}, Nk {4}, density {5}")
    @CsvSource({"64, false, false, 203, 203, 0.5", "64, true, false, 203, 203, 0.5", "64, true, true, 203, 203, 0.5",
            "64, false, true, 203, 203, 0.3", "32, true, false, 113, 203, 0.4", "32, false, true, 203, 113, 0.6",
            "16, true, true, 100, 100, 0.25", "16, true, false, 65, 65, 0.1"})
    void randomLayoutsEqualTheReference(int block, boolean perHead, boolean causal, int nq, int nk, double density) {
        int hq = 4;
        int layoutHeads = perHead ? hq : 1;
        BlockSparseLayout layout = random(block * 31L + nq + (perHead ? 1 : 0), block, layoutHeads,
                BlockSparseLayout.blocksFor(nq, block), BlockSparseLayout.blocksFor(nk, block), density);
        AttentionSpec spec = AttentionSpec.dense(64).withCausal(causal).withLayout(layout);
        Checked c = checkAgainstReference(layout.toString(), operands(nq + nk, DType.F32, 2, nq, nk, hq, 2, 64), spec);
        int emptyQueryBlockRows = Math.min(block, nq) * 2 * (perHead ? 1 : hq); // query block 0, head 0 (or all)
        assertTrue(c.emptyRows() >= emptyQueryBlockRows, "the empty block row gives " + emptyQueryBlockRows
                + " rows without keys, counted " + c.emptyRows());
    }

    @Test
    void aLayoutLargerThanTheSequenceAndBlockRowsOfOnlyPartialTiles() {
        // 6 × 6 blocks of 32 cover 192 positions; the sequences are shorter (the facade accepts a larger layout)
        BlockSparseLayout layout = random(5, 32, 1, 6, 6, 0.5);
        AttentionSpec spec = AttentionSpec.dense(32).withLayout(layout).withWindow(50, 10);
        checkAgainstReference("larger layout", operands(6, DType.F32, 1, 70, 150, 2, 2, 32), spec);
    }

    @Test
    void patternsThroughTheKernels() {
        int n = 250;
        int block = 32;
        int blocks = BlockSparseLayout.blocksFor(n, block);
        Tensor[] t = operands(7, DType.F32, 1, n, n, 4, 1, 64);
        checkAgainstReference("localGlobal causal",
                t, AttentionSpec.causal(64).withLayout(BlockSparsePatterns.localGlobal(block, blocks, blocks, 1, 1,
                        true)));
        checkAgainstReference("bigBird per head", t, AttentionSpec.dense(64).withLayout(
                BlockSparsePatterns.bigBird(block, blocks, 1, 1, 2, 4, 11)));
        checkAgainstReference("butterfly", t, AttentionSpec.dense(64).withLayout(BlockSparsePatterns.butterfly(block,
                8)));
        checkAgainstReference("fixed per head", t, AttentionSpec.causal(64).withLayout(BlockSparsePatterns.fixed(block,
                blocks, 3, 1, true, 4)));
    }

    @Test
    void packedSequencesUseTheLayoutInTheirOwnBlockCoordinates() {
        long[] cu = {0, 40, 40, 170};
        long[] cuK = {0, 90, 100, 140};
        BlockSparseLayout layout = random(9, 16, 2, 9, 9, 0.5);
        AttentionSpec spec = AttentionSpec.dense(32).withCausal(true).withLayout(layout)
                .withPacked(Tensor.of(cu, 4), Tensor.of(cuK, 4));
        checkAgainstReference("packed + layout", operands(9, DType.F32, 1, 170, 140, 2, 1, 32), spec);
    }

    @Test
    void dropoutWithALayout() {
        BlockSparseLayout layout = random(12, 32, 4, 4, 4, 0.6);
        AttentionSpec spec = AttentionSpec.dense(64).withLayout(layout).withDropout(0.3, 77, 5);
        Checked c = checkAgainstReference("dropout + layout", operands(12, DType.F32, 1, 113, 113, 4, 4, 64), spec);
        assertTrue(c.emptyRows() >= 32, "query block 0 of head 0 sees nothing: at least 32 empty rows, counted "
                + c.emptyRows());
    }
}
