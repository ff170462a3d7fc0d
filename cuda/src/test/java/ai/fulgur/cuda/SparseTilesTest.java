package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.attention.BlockSparseLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The tile lists the block-sparse kernels walk equal an element-by-element reading of the layout: a tile is listed when
 * some position of it lies in a set block, covered when every position of the whole tile does; the column lists are
 * the transpose of the row lists. Block sizes below, at and above the tile sizes, shared and per-head layouts. Runs
 * without a GPU.
 */
class SparseTilesTest {

    @Test
    void tileListsMatchTheLayoutPositionByPosition() {
        SplittableRandom rnd = new SplittableRandom(3);
        int[][] shapes = {{16, 64, 32}, {64, 64, 32}, {128, 128, 64}, {256, 64, 64}, {32, 128, 64}, {48, 64, 32}};
        for (int[] shape : shapes) {
            int bs = shape[0];
            int tileRows = shape[1];
            int tileCols = shape[2];
            for (int heads : new int[] {1, 3}) {
                int qb = 1 + rnd.nextInt(9);
                int kb = 1 + rnd.nextInt(9);
                boolean[] m = new boolean[heads * qb * kb];
                for (int i = 0; i < m.length; i++) {
                    m[i] = rnd.nextInt(3) != 0;
                }
                BlockSparseLayout layout = new BlockSparseLayout(bs, heads, qb, kb, m);
                SparseTiles t = SparseTiles.of(layout, tileRows, tileCols);
                String what = "block " + bs + " tiles " + tileRows + "×" + tileCols + " heads " + heads;
                assertEquals(Math.ceilDiv(qb * bs, tileRows), t.rowTiles(), what);
                assertEquals(Math.ceilDiv(kb * bs, tileCols), t.colTiles(), what);
                for (int h = 0; h < heads; h++) {
                    for (int a = 0; a < t.rowTiles(); a++) {
                        List<Integer> expected = new ArrayList<>();
                        for (int c = 0; c < t.colTiles(); c++) {
                            int e = slowEntry(layout, h, a, c, tileRows, tileCols);
                            if (e >= 0) {
                                expected.add(e);
                            }
                        }
                        int from = t.rowOffsets()[h * t.rowTiles() + a];
                        int to = t.rowOffsets()[h * t.rowTiles() + a + 1];
                        assertArrayEquals(expected.stream().mapToInt(Integer::intValue).toArray(),
                                java.util.Arrays.copyOfRange(t.rowEntries(), from, to), what + " row " + h + "/" + a);
                    }
                    for (int c = 0; c < t.colTiles(); c++) {
                        List<Integer> expected = new ArrayList<>();
                        for (int a = 0; a < t.rowTiles(); a++) {
                            int e = slowEntry(layout, h, a, c, tileRows, tileCols);
                            if (e >= 0) {
                                expected.add(a << 1 | (e & 1));
                            }
                        }
                        int from = t.colOffsets()[h * t.colTiles() + c];
                        int to = t.colOffsets()[h * t.colTiles() + c + 1];
                        assertArrayEquals(expected.stream().mapToInt(Integer::intValue).toArray(),
                                java.util.Arrays.copyOfRange(t.colEntries(), from, to), what + " col " + h + "/" + c);
                    }
                }
                int[] packed = t.packed();
                long[] at = t.packedOffsets();
                assertEquals(t.rowEntries().length, t.colEntries().length, what);
                assertEquals(packed.length, at[3] + t.colEntries().length, what);
                assertEquals(t.colOffsets()[0], packed[(int) at[2]], what);
            }
        }
    }

    @Test
    void aFullLayoutCoversEveryInsideTile() {
        SparseTiles t = SparseTiles.of(BlockSparseLayout.dense(128, 64, 64), 128, 64);
        assertEquals(64 * 128, t.rowEntries().length);
        for (int e : t.rowEntries()) {
            assertTrue((e & 1) == 1, "entry " + e + " not covered");
        }
    }

    @Test
    void badTileSizesAreNamed() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> SparseTiles.of(BlockSparseLayout.dense(64, 2, 2), 0, 64));
        assertTrue(e.getMessage().contains("0 × 64"), e.getMessage());
    }

    /** Tile (a, c) read position by position: -1 when no position is set, else c << 1 | covered. */
    private static int slowEntry(BlockSparseLayout l, int h, int a, int c, int tileRows, int tileCols) {
        long rows = (long) l.queryBlocks() * l.blockSize();
        long cols = (long) l.keyBlocks() * l.blockSize();
        boolean any = false;
        boolean all = true;
        for (long i = (long) a * tileRows; i < (long) (a + 1) * tileRows; i++) {
            for (long j = (long) c * tileCols; j < (long) (c + 1) * tileCols; j++) {
                boolean set = i < rows && j < cols && l.isSet(h, (int) (i / l.blockSize()), (int) (j / l.blockSize()));
                any |= set;
                all &= set;
            }
        }
        return any ? c << 1 | (all ? 1 : 0) : -1;
    }
}
