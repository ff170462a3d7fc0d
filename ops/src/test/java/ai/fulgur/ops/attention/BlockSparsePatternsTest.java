package ai.fulgur.ops.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Each {@link BlockSparsePatterns} factory against small layouts drawn by hand (the drawings of its Javadoc, checked
 * cell by cell against the definitions) and against the invariants its definition implies over many sizes.
 */
class BlockSparsePatternsTest {

    /** The layout of one head as rows of '#' (set) and '.', query blocks down, key blocks across. */
    private static String draw(BlockSparseLayout l, int head) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < l.queryBlocks(); i++) {
            for (int j = 0; j < l.keyBlocks(); j++) {
                sb.append(l.isSet(head, i, j) ? '#' : '.');
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static void assertSymmetric(BlockSparseLayout l, int head) {
        for (int i = 0; i < l.queryBlocks(); i++) {
            for (int j = 0; j < l.keyBlocks(); j++) {
                assertEquals(l.isSet(head, i, j), l.isSet(head, j, i), "symmetry at (" + i + ", " + j + ") of " + l);
            }
        }
    }

    private static void assertNothingAboveDiagonal(BlockSparseLayout l, int head) {
        int shift = l.keyBlocks() - l.queryBlocks();
        for (int i = 0; i < l.queryBlocks(); i++) {
            for (int j = i + shift + 1; j < l.keyBlocks(); j++) {
                assertFalse(l.isSet(head, i, j), "causal layout sets (" + i + ", " + j + ") above the diagonal: " + l);
            }
        }
    }

    private static void assertMessage(Executable call, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message \"" + e.getMessage() + "\" should contain \"" + f + "\"");
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // localGlobal

    @Test
    void localGlobalDrawings() {
        assertEquals("""
                ########
                ###.....
                ####....
                #.###...
                #..###..
                #...###.
                #....###
                #.....##
                """, draw(BlockSparsePatterns.localGlobal(64, 8, 8, 1, 1, false), 0));
        assertEquals("""
                #.......
                ##......
                ###.....
                #.##....
                #..##...
                #...##..
                #....##.
                #.....##
                """, draw(BlockSparsePatterns.localGlobal(64, 8, 8, 1, 1, true), 0));
        // fewer query blocks than key blocks: the diagonal is bottom-right aligned (query block i ↔ key block i + 2)
        assertEquals("""
                ..#..
                ...#.
                ....#
                """, draw(BlockSparsePatterns.localGlobal(16, 3, 5, 0, 0, true), 0));
        // query block 0 is global: it sees every key block up to its diagonal; key block 0 is seen by all
        assertEquals("""
                ###..
                #.##.
                #..##
                """, draw(BlockSparsePatterns.localGlobal(16, 3, 5, 1, 1, true), 0));
        // more query blocks than key blocks: the first ones see nothing when causal
        assertEquals("""
                ..
                #.
                ##
                """, draw(BlockSparsePatterns.localGlobal(16, 3, 2, 1, 0, true), 0));
    }

    @Test
    void localGlobalInvariants() {
        for (int n = 1; n <= 12; n++) {
            for (int w = 0; w <= 3; w++) {
                for (int g = 0; g <= 2; g++) {
                    BlockSparseLayout dense = BlockSparsePatterns.localGlobal(32, n, n, w, g, false);
                    BlockSparseLayout causal = BlockSparsePatterns.localGlobal(32, n, n, w, g, true);
                    assertSymmetric(dense, 0);
                    assertNothingAboveDiagonal(causal, 0);
                    for (int i = 0; i < n; i++) {
                        for (int j = 0; j < n; j++) {
                            boolean want = Math.abs(i - j) <= w || i < g || j < g;
                            assertEquals(want, dense.isSet(0, i, j), "localGlobal(" + n + ", w " + w + ", g " + g
                                    + ") at (" + i + ", " + j + ")");
                            assertEquals(want && j <= i, causal.isSet(0, i, j), "causal localGlobal(" + n + ", w " + w
                                    + ", g " + g + ") at (" + i + ", " + j + ")");
                        }
                    }
                }
            }
        }
        assertEquals(1.0, BlockSparsePatterns.localGlobal(64, 5, 5, 4, 0, false).density(), "a wide window is dense");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // strided and fixed (Sparse Transformer)

    @Test
    void stridedDrawings() {
        assertEquals("""
                #.......
                ##......
                ###.....
                .###....
                #.###...
                .#.###..
                #.#.###.
                .#.#.###
                """, draw(BlockSparsePatterns.strided(64, 8, 2, true), 0));
        assertEquals("""
                ###.#.#.
                ####.#.#
                #####.#.
                .#####.#
                #.#####.
                .#.#####
                #.#.####
                .#.#.###
                """, draw(BlockSparsePatterns.strided(64, 8, 2, false), 0));
        assertEquals("""
                #......
                ##.....
                ###....
                ####...
                .####..
                ..####.
                #..####
                """, draw(BlockSparsePatterns.strided(64, 7, 3, true), 0));
    }

    @Test
    void stridedInvariants() {
        for (int n = 1; n <= 16; n++) {
            for (int stride = 1; stride <= 5; stride++) {
                BlockSparseLayout dense = BlockSparsePatterns.strided(16, n, stride, false);
                BlockSparseLayout causal = BlockSparsePatterns.strided(16, n, stride, true);
                assertSymmetric(dense, 0);
                assertNothingAboveDiagonal(causal, 0);
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j <= i; j++) {
                        // the previous `stride` blocks and every stride-th block back are visible
                        boolean want = i - j <= stride || (i - j) % stride == 0;
                        assertEquals(want, causal.isSet(0, i, j), "strided(" + n + ", " + stride + ") at (" + i + ", "
                                + j + ")");
                        assertEquals(causal.isSet(0, i, j), dense.isSet(0, i, j), "dense and causal agree below");
                    }
                }
            }
        }
        assertEquals(1.0, BlockSparsePatterns.strided(16, 9, 1, false).density(), "stride 1 sees everything");
    }

    @Test
    void fixedDrawings() {
        assertEquals("""
                #.......
                ##......
                ###.....
                ####....
                ...##...
                ...###..
                ...####.
                ...#####
                """, draw(BlockSparsePatterns.fixed(64, 8, 4, 1, true), 0));
        assertEquals("""
                ####...#
                ####...#
                ####...#
                ####...#
                ...#####
                ...#####
                ...#####
                ...#####
                """, draw(BlockSparsePatterns.fixed(64, 8, 4, 1, false), 0));
        BlockSparseLayout twoHeads = BlockSparsePatterns.fixed(64, 8, 4, 2, true, 2);
        assertEquals(2, twoHeads.heads());
        // head 0 reads the last two blocks of each chunk (u = 0), head 1 the two before them (u = 1)
        assertEquals("""
                #.......
                ##......
                ###.....
                ####....
                ..###...
                ..####..
                ..#####.
                ..######
                """, draw(twoHeads, 0));
        assertEquals("""
                #.......
                ##......
                ###.....
                ####....
                ##..#...
                ##..##..
                ##..###.
                ##..####
                """, draw(twoHeads, 1));
    }

    @Test
    void fixedInvariants() {
        for (int n = 1; n <= 13; n++) {
            for (int stride = 1; stride <= 5; stride++) {
                for (int c = 1; c <= stride; c++) {
                    BlockSparseLayout causal = BlockSparsePatterns.fixed(8, n, stride, c, true);
                    BlockSparseLayout dense = BlockSparsePatterns.fixed(8, n, stride, c, false);
                    assertNothingAboveDiagonal(causal, 0);
                    for (int i = 0; i < n; i++) {
                        for (int j = 0; j < n; j++) {
                            // A(1): the same chunk; A(2): the last c blocks of any chunk
                            boolean want = i / stride == j / stride || j % stride >= stride - c;
                            assertEquals(want, dense.isSet(0, i, j), "fixed(" + n + ", " + stride + ", " + c + ") at ("
                                    + i + ", " + j + ")");
                            assertEquals(want && j <= i, causal.isSet(0, i, j), "causal fixed at (" + i + ", " + j
                                    + ")");
                        }
                    }
                    BlockSparseLayout perHead = BlockSparsePatterns.fixed(8, n, stride, c, true, 3);
                    assertEquals(draw(causal, 0), draw(perHead, 0), "head 0 of the per-head layout is the shared one");
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // BigBird

    @Test
    void bigBirdIsSeededAndHasWindowGlobalAndRandomBlocks() {
        int n = 16;
        int w = 1;
        int g = 2;
        int r = 3;
        BlockSparseLayout a = BlockSparsePatterns.bigBird(64, n, w, g, r, 42);
        BlockSparseLayout b = BlockSparsePatterns.bigBird(64, n, w, g, r, 42);
        BlockSparseLayout c = BlockSparsePatterns.bigBird(64, n, w, g, r, 43);
        assertArrayEquals(a.mask(), b.mask(), "the same seed gives the same layout");
        assertFalse(Arrays.equals(a.mask(), c.mask()), "another seed gives another layout");
        for (int i = 0; i < n; i++) {
            int window = 0;
            int extra = 0;
            for (int j = 0; j < n; j++) {
                boolean fixed = Math.abs(i - j) <= w || i < g || j < g;
                if (fixed) {
                    assertTrue(a.isSet(0, i, j), "window/global block (" + i + ", " + j + ") must be set");
                    window++;
                } else if (a.isSet(0, i, j)) {
                    extra++;
                }
            }
            int expected = Math.min(r, n - window);
            assertEquals(expected, extra, "random blocks of query block " + i);
        }
        // fewer free blocks than asked: all of them
        assertEquals(1.0, BlockSparsePatterns.bigBird(32, 4, 1, 0, 10, 1).density(), "all free blocks drawn");
        // no random blocks: exactly local + global
        assertArrayEquals(BlockSparsePatterns.localGlobal(32, 9, 9, 2, 1, false).mask(),
                BlockSparsePatterns.bigBird(32, 9, 2, 1, 0, 7).mask(), "bigBird without random blocks");
    }

    @Test
    void bigBirdPerHeadDrawsEachHeadAfresh() {
        BlockSparseLayout shared = BlockSparsePatterns.bigBird(64, 32, 1, 1, 2, 9);
        BlockSparseLayout perHead = BlockSparsePatterns.bigBird(64, 32, 1, 1, 2, 4, 9);
        assertEquals(4, perHead.heads());
        assertEquals(draw(shared, 0), draw(perHead, 0), "head 0 equals the shared layout of the same seed");
        assertFalse(draw(perHead, 1).equals(draw(perHead, 2)), "heads draw different random blocks");
        assertArrayEquals(perHead.mask(), BlockSparsePatterns.bigBird(64, 32, 1, 1, 2, 4, 9).mask(), "reproducible");
        // the random blocks are spread: over many query blocks every free key block is drawn at least once
        BlockSparseLayout big = BlockSparsePatterns.bigBird(16, 64, 0, 0, 8, 8, 3);
        boolean[] seen = new boolean[64];
        for (int h = 0; h < 8; h++) {
            for (int i = 0; i < 64; i++) {
                for (int j = 0; j < 64; j++) {
                    seen[j] |= j != i && big.isSet(h, i, j);
                }
            }
        }
        for (int j = 0; j < 64; j++) {
            assertTrue(seen[j], "key block " + j + " never drawn in 8 × 64 rows of 8 random blocks");
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // butterfly

    @Test
    void butterflyDrawingAndInvariants() {
        assertEquals("""
                ###.#...
                ##.#.#..
                #.##..#.
                .###...#
                #...###.
                .#..##.#
                ..#.#.##
                ...#.###
                """, draw(BlockSparsePatterns.butterfly(64, 8), 0));
        assertEquals("#\n", draw(BlockSparsePatterns.butterfly(64, 1), 0));
        for (int log = 0; log <= 7; log++) {
            int n = 1 << log;
            BlockSparseLayout l = BlockSparsePatterns.butterfly(32, n);
            assertSymmetric(l, 0);
            for (int i = 0; i < n; i++) {
                assertEquals(log + 1, l.keyBlocksOf(0, i).length, "blocks in row " + i + " of butterfly(" + n + ")");
                for (int j = 0; j < n; j++) {
                    int x = i ^ j;
                    assertEquals(x == 0 || (x & (x - 1)) == 0, l.isSet(0, i, j), "butterfly(" + n + ") at (" + i + ", "
                            + j + ")");
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // stack and argument checks

    @Test
    void stackMakesAPerHeadLayout() {
        BlockSparseLayout local = BlockSparsePatterns.localGlobal(64, 8, 8, 1, 0, true);
        BlockSparseLayout strided = BlockSparsePatterns.strided(64, 8, 3, true);
        BlockSparseLayout both = BlockSparsePatterns.stack(List.of(local, strided));
        assertEquals(2, both.heads());
        assertEquals(draw(local, 0), draw(both, 0));
        assertEquals(draw(strided, 0), draw(both, 1));
        assertMessage(() -> BlockSparsePatterns.stack(List.of(local, BlockSparsePatterns.butterfly(64, 4))),
                "layout 1", "4×4");
        assertMessage(() -> BlockSparsePatterns.stack(List.of()), "none");
    }

    @Test
    void badArgumentsAreNamedWithTheirValues() {
        assertMessage(() -> BlockSparsePatterns.localGlobal(0, 4, 4, 1, 1, false), "blockSize", "0");
        assertMessage(() -> BlockSparsePatterns.localGlobal(64, -2, 4, 1, 1, false), "queryBlocks", "-2");
        assertMessage(() -> BlockSparsePatterns.localGlobal(64, 4, 0, 1, 1, false), "keyBlocks", "0");
        assertMessage(() -> BlockSparsePatterns.localGlobal(64, 4, 4, -1, 1, false), "windowBlocks", "-1");
        assertMessage(() -> BlockSparsePatterns.localGlobal(64, 4, 4, 1, -3, false), "globalBlocks", "-3");
        assertMessage(() -> BlockSparsePatterns.strided(64, 4, 0, true), "stride", "0");
        assertMessage(() -> BlockSparsePatterns.strided(64, 0, 2, true), "blocks", "0");
        assertMessage(() -> BlockSparsePatterns.fixed(64, 8, 4, 5, true), "summaryBlocks", "5", "stride = 4");
        assertMessage(() -> BlockSparsePatterns.fixed(64, 8, 4, 0, true), "summaryBlocks", "0");
        assertMessage(() -> BlockSparsePatterns.fixed(64, 8, 4, 1, true, 0), "heads", "0");
        assertMessage(() -> BlockSparsePatterns.bigBird(64, 8, 1, 1, -1, 3), "randomBlocks", "-1");
        assertMessage(() -> BlockSparsePatterns.bigBird(64, 8, 1, 1, 1, 0, 3), "heads", "0");
        assertMessage(() -> BlockSparsePatterns.butterfly(64, 12), "power-of-two", "12", "8", "16");
        assertMessage(() -> BlockSparsePatterns.butterfly(64, 0), "blocks", "0");
        assertMessage(() -> BlockSparsePatterns.localGlobal(64, 100_000, 100_000, 1, 1, false), "100000 × 100000");
    }
}
