package ai.fulgur.inference.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class PoolSizingTest {
    private static final long GIB = 1L << 30;

    /** GPT-2 124M, fp16, 16-token blocks: 2·12·12·64·16·2 = 589,824 bytes; 0.9 · 70 GiB = 63 GiB = 114,688 blocks. */
    @Test
    void gpt2SmallOnAnH100() {
        assertEquals(589_824, PoolSizing.bytesPerBlock(12, 12, 64, 16, 2));
        assertEquals(63 * GIB, PoolSizing.usableBytes(70 * GIB, 0.9));
        assertEquals(114_688, PoolSizing.numBlocks(70 * GIB, 0.9, 12, 12, 64, 16, 2));
    }

    /** A 7B model (32 layers, 32 KV heads of 128): 8 MiB a block; 0.9 · 40 GiB = 36 GiB = 4,608 blocks. */
    @Test
    void sevenBillionParameterModel() {
        assertEquals(8L << 20, PoolSizing.bytesPerBlock(32, 32, 128, 16, 2));
        assertEquals(4_608, PoolSizing.numBlocks(40 * GIB, 0.9, 32, 32, 128, 16, 2));
    }

    /** Rounds down: 10,000,000 bytes hold 16 blocks of 589,824 (9,437,184), not 17. fp32 doubles a block. */
    @Test
    void roundsDownAndCountsDtypeBytes() {
        assertEquals(16, PoolSizing.numBlocks(10_000_000, 1.0, 12, 12, 64, 16, 2));
        assertEquals(8, PoolSizing.numBlocks(10_000_000, 1.0, 12, 12, 64, 16, 4));
        assertEquals(0, PoolSizing.numBlocks(589_823, 1.0, 12, 12, 64, 16, 2));
    }

    @Test
    void rejectsBadValues() {
        assertThrows(IllegalArgumentException.class, () -> PoolSizing.numBlocks(GIB, 0, 12, 12, 64, 16, 2));
        assertThrows(IllegalArgumentException.class, () -> PoolSizing.numBlocks(GIB, 1.5, 12, 12, 64, 16, 2));
        assertThrows(IllegalArgumentException.class, () -> PoolSizing.numBlocks(-1, 0.9, 12, 12, 64, 16, 2));
        assertThrows(IllegalArgumentException.class, () -> PoolSizing.bytesPerBlock(12, 0, 64, 16, 2));
    }
}
