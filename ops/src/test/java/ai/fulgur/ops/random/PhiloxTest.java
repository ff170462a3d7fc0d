package ai.fulgur.ops.random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.junit.jupiter.api.Test;

/**
 * {@link Philox} against the Random123 known-answer vectors for Philox4x32-10 (kat_vectors: counter, key, output),
 * and the element-stream layout its javadoc promises, checked from the raw block words.
 */
class PhiloxTest {
    /** The 64-bit seed with k0 = its low 32 bits and k1 = its high 32 bits, as {@link Philox#block} reads it. */
    private static long seed(int k0, int k1) {
        return (k0 & 0xffffffffL) | ((long) k1 << 32);
    }

    private static int[] block(long seed, int c0, int c1, int c2, int c3) {
        int[] out = new int[4];
        Philox.block(seed, c0, c1, c2, c3, out);
        return out;
    }

    @Test
    void knownAnswerZeros() {
        assertArrayEquals(new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}, block(seed(0, 0), 0, 0, 0, 0));
    }

    @Test
    void knownAnswerAllOnes() {
        assertArrayEquals(new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
                block(seed(0xffffffff, 0xffffffff), 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff));
    }

    @Test
    void knownAnswerPiDigits() {
        assertArrayEquals(new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
                block(seed(0xa4093822, 0x299f31d0), 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344));
    }

    /** Element n of a stream is lane n &amp; 3 of the block at counter (n >>> 2 low, n >>> 2 high, stream, 0). */
    @Test
    void streamLayoutFollowsTheBlocks() {
        long s = 0x0123456789abcdefL;
        for (long n : new long[] {0, 1, 2, 3, 4, 7, 1001, (1L << 34) + 5}) {
            long b = n >>> 2;
            int[] w = block(s, (int) b, (int) (b >>> 32), 3, 0);
            int word = w[(int) (n & 3)];
            float expected = (word >>> 8) / 16777216f; // the top 24 bits over 2^24
            assertEquals(expected, Philox.uniform(s, 3, n), "element " + n + " of stream 3");
            Philox.Stream stream = new Philox.Stream(s, 3);
            assertEquals(word, stream.word(n));
            assertEquals(expected, stream.uniform(n));
        }
        // with seed 0 the first four elements of stream 0 are the first known-answer block
        int[] kat = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8};
        for (int n = 0; n < 4; n++) {
            assertEquals((kat[n] >>> 8) / 16777216f, Philox.uniform(0, 0, n));
        }
        assertNotEquals(Philox.uniform(s, 0, 5), Philox.uniform(s, 1, 5), "streams differ");
    }

    /** Box–Muller on lanes 0 and 1 of block n >>> 1: cosine for even n, sine for odd n. */
    @Test
    void normalUsesBoxMullerOnTwoLanes() {
        Philox.Stream stream = new Philox.Stream(0, 0);
        int[] kat = {0x6627e8d5, 0xe169c58d};
        double u1 = ((kat[0] >>> 8) + 1) / 16777216.0;
        double u2 = (kat[1] >>> 8) / 16777216.0;
        double r = Math.sqrt(-2 * Math.log(u1));
        assertEquals(r * Math.cos(2 * Math.PI * u2), stream.normal(0), 1e-15);
        assertEquals(r * Math.sin(2 * Math.PI * u2), stream.normal(1), 1e-15);
    }
}
