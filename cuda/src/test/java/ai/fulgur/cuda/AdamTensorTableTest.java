package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The multi-tensor Adam table on the host (no GPU): rows of 8 words, empty tensors left out, firstChunk the prefix
 * sum of chunk counts, the decay flag, and the kernel's chunk-to-tensor binary search checked against a linear walk
 * over every chunk for odd sizes.
 */
class AdamTensorTableTest {

    @Test
    void rowsHoldAddressesCountsTypesPrefixSumsAndDecayFlags() {
        AdamTensorTable t = new AdamTensorTable(4, 1);
        assertTrue(t.add(100, 200, 300, 400, 5, 0x01010101L, true)); // 2 chunks
        assertFalse(t.add(1, 2, 3, 4, 0, 0, true)); // empty: no chunk, no row
        assertTrue(t.add(110, 210, 310, 410, 4, 0x01010201L, false)); // 1 chunk, BF16 gradient
        assertTrue(t.add(120, 220, 320, 420, 9, 0x01010101L, true)); // 3 chunks; the table grew past capacity 1
        assertEquals(3, t.count());
        assertEquals(6, t.totalChunks());
        assertArrayEquals(new long[] {
            100, 200, 300, 400, 5, 0x01010101L, 0, AdamTensorTable.DECAY,
            110, 210, 310, 410, 4, 0x01010201L, 2, 0,
            120, 220, 320, 420, 9, 0x01010101L, 3, AdamTensorTable.DECAY}, t.words());
    }

    @Test
    void everyChunkMapsToItsTensorAndOffset() {
        long chunk = CudaOptim.CHUNK;
        long[] sizes = {1, 3, 1023, 4097, chunk, chunk + 1, 0, 3 * chunk - 1, 768, 50257L * 768, 7};
        AdamTensorTable t = new AdamTensorTable(chunk, 4);
        int[] rowOf = new int[sizes.length];
        int rows = 0;
        for (int i = 0; i < sizes.length; i++) {
            rowOf[i] = t.add(8L * i, 0, 0, 0, sizes[i], 0, i % 2 == 0) ? rows++ : -1;
        }
        long c = 0;
        for (int i = 0; i < sizes.length; i++) {
            long chunks = (sizes[i] + chunk - 1) / chunk;
            for (long k = 0; k < chunks; k++, c++) {
                assertEquals(rowOf[i], t.tensorOfChunk(c), "chunk " + c + " belongs to tensor " + i);
                assertEquals(k * chunk, t.startOfChunk(c), "chunk " + c + " starts at element " + k * chunk);
            }
        }
        assertEquals(c, t.totalChunks());
        assertThrows(IllegalArgumentException.class, () -> t.tensorOfChunk(t.totalChunks()));
        assertThrows(IllegalArgumentException.class, () -> t.add(0, 0, 0, 0, -1, 0, true));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new AdamTensorTable(0, 1));
        assertTrue(e.getMessage().contains("got 0"), e.getMessage());
    }
}
