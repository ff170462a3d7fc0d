package ai.fulgur.cuda;

import ai.fulgur.ops.attention.BlockSparseLayout;
import java.util.Arrays;

/**
 * A block-sparse layout compressed to one kernel's tiles, which the block-sparse FlashAttention kernels walk instead of
 * testing every tile (TileWalk in flash_attention.cuh): for each (layout head, query tile of {@code tileRows} rows)
 * the key tiles of {@code tileCols} keys that overlap at least one set layout block (CSR, the forward and dQ walk
 * these), and the transpose, for each (layout head, key tile) the query tiles (CSC, the dK/dV pass walks these).
 * An entry is {@code tile << 1 | covered}: covered when every layout block the tile overlaps is set, so the kernel
 * needs the element mask only for the causal, window and length rules; a tile that reaches past the layout's extent
 * is never covered.
 *
 * <p>Compressing to the kernel's tiles rather than to layout blocks makes any block size work the same way: blocks
 * larger than a tile list every tile inside them, blocks smaller than a tile are merged into it (and masked element by
 * element where the tile is covered only in part).
 *
 * @param rowTiles   query tiles per head (the layout's rows rounded up to whole tiles)
 * @param colTiles   key tiles per head
 * @param rowOffsets (heads · rowTiles + 1) offsets into {@code rowEntries}
 * @param rowEntries the listed key tiles of each (head, query tile), ascending
 * @param colOffsets (heads · colTiles + 1) offsets into {@code colEntries}
 * @param colEntries the listed query tiles of each (head, key tile), ascending
 */
record SparseTiles(int rowTiles, int colTiles, int[] rowOffsets, int[] rowEntries, int[] colOffsets,
        int[] colEntries) {

    /** The tile lists of {@code layout} for tiles of {@code tileRows} queries × {@code tileCols} keys. */
    static SparseTiles of(BlockSparseLayout layout, int tileRows, int tileCols) {
        if (tileRows <= 0 || tileCols <= 0) {
            throw new IllegalArgumentException("tile sizes must be positive, got " + tileRows + " × " + tileCols);
        }
        int bs = layout.blockSize();
        int qb = layout.queryBlocks();
        int kb = layout.keyBlocks();
        long rowsExtent = (long) qb * bs;
        long colsExtent = (long) kb * bs;
        int rowTiles = Math.toIntExact((rowsExtent + tileRows - 1) / tileRows);
        int colTiles = Math.toIntExact((colsExtent + tileCols - 1) / tileCols);
        int heads = layout.heads();
        boolean[] mask = layout.mask();
        // entry[(h · rowTiles + a) · colTiles + c]: 0 unlisted, else tile entry + 1 (so 0 stays free)
        int[][] cells = new int[heads][];
        int rowCount = 0;
        for (int h = 0; h < heads; h++) {
            long[] sums = prefixSums(mask, h, qb, kb);
            int[] cell = new int[rowTiles * colTiles];
            for (int a = 0; a < rowTiles; a++) {
                long r0 = (long) a * tileRows;
                long r1 = Math.min(r0 + tileRows, rowsExtent); // exclusive
                int a0 = (int) (r0 / bs);
                int a1 = (int) ((r1 - 1) / bs);
                boolean rowsInside = r0 + tileRows <= rowsExtent;
                for (int c = 0; c < colTiles; c++) {
                    long c0 = (long) c * tileCols;
                    long c1 = Math.min(c0 + tileCols, colsExtent);
                    int b0 = (int) (c0 / bs);
                    int b1 = (int) ((c1 - 1) / bs);
                    long set = setIn(sums, kb, a0, a1, b0, b1);
                    if (set > 0) {
                        boolean covered = rowsInside && c0 + tileCols <= colsExtent
                                && set == (long) (a1 - a0 + 1) * (b1 - b0 + 1);
                        cell[a * colTiles + c] = 1 + (covered ? 1 : 0);
                        rowCount++;
                    }
                }
            }
            cells[h] = cell;
        }
        int[] rowOffsets = new int[heads * rowTiles + 1];
        int[] rowEntries = new int[rowCount];
        int[] colOffsets = new int[heads * colTiles + 1];
        int[] colEntries = new int[rowCount];
        int n = 0;
        for (int h = 0; h < heads; h++) {
            for (int a = 0; a < rowTiles; a++) {
                rowOffsets[h * rowTiles + a] = n;
                for (int c = 0; c < colTiles; c++) {
                    int v = cells[h][a * colTiles + c];
                    if (v != 0) {
                        rowEntries[n++] = c << 1 | (v - 1);
                    }
                }
            }
        }
        rowOffsets[heads * rowTiles] = n;
        n = 0;
        for (int h = 0; h < heads; h++) {
            for (int c = 0; c < colTiles; c++) {
                colOffsets[h * colTiles + c] = n;
                for (int a = 0; a < rowTiles; a++) {
                    int v = cells[h][a * colTiles + c];
                    if (v != 0) {
                        colEntries[n++] = a << 1 | (v - 1);
                    }
                }
            }
        }
        colOffsets[heads * colTiles] = n;
        return new SparseTiles(rowTiles, colTiles, rowOffsets, rowEntries, colOffsets, colEntries);
    }

    /** (qb + 1) × (kb + 1) summed-area table of head h's set blocks. */
    private static long[] prefixSums(boolean[] mask, int h, int qb, int kb) {
        long[] s = new long[(qb + 1) * (kb + 1)];
        for (int a = 0; a < qb; a++) {
            for (int c = 0; c < kb; c++) {
                int set = mask[(h * qb + a) * kb + c] ? 1 : 0;
                s[(a + 1) * (kb + 1) + c + 1] = set + s[a * (kb + 1) + c + 1] + s[(a + 1) * (kb + 1) + c]
                        - s[a * (kb + 1) + c];
            }
        }
        return s;
    }

    /** Set blocks in rows [a0, a1] × columns [b0, b1] (inclusive). */
    private static long setIn(long[] s, int kb, int a0, int a1, int b0, int b1) {
        int w = kb + 1;
        return s[(a1 + 1) * w + b1 + 1] - s[a0 * w + b1 + 1] - s[(a1 + 1) * w + b0] + s[a0 * w + b0];
    }

    /** The four arrays back to back, as uploaded: rowOffsets, rowEntries, colOffsets, colEntries. */
    int[] packed() {
        int[] all = new int[rowOffsets.length + rowEntries.length + colOffsets.length + colEntries.length];
        int at = 0;
        for (int[] part : new int[][] {rowOffsets, rowEntries, colOffsets, colEntries}) {
            System.arraycopy(part, 0, all, at, part.length);
            at += part.length;
        }
        return all;
    }

    /** Element offsets of the four arrays inside {@link #packed()}. */
    long[] packedOffsets() {
        long a = 0;
        long b = a + rowOffsets.length;
        long c = b + rowEntries.length;
        long d = c + colOffsets.length;
        return new long[] {a, b, c, d};
    }

    @Override
    public String toString() {
        return "SparseTiles[" + rowTiles + " × " + colTiles + " tiles, " + rowEntries.length + " listed, rows "
                + Arrays.toString(Arrays.copyOf(rowOffsets, Math.min(rowOffsets.length, 8))) + "…]";
    }
}
