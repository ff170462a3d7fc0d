package ai.fulgur.ops.random;

/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a counter-based generator.
 * The same (key, counter) gives the same four 32-bit words on the CPU and in CUDA kernels, so a dropout mask can be
 * regenerated in the backward pass, or on another device, instead of being stored.
 *
 * <p>Element streams: element {@code n} of a stream keyed by {@code seed} reads lane {@code n & 3} of the block at
 * counter {@code (n >>> 2, 0, 0)}. The third counter word separates independent streams (attention dropout puts the
 * (batch, head) pair there).
 */
public final class Philox {
    private static final int M0 = 0xD2511F53;
    private static final int M1 = 0xCD9E8D57;
    private static final int W0 = 0x9E3779B9;
    private static final int W1 = 0xBB67AE85;
    private static final float INV_2_24 = 1.0f / (1 << 24);

    private Philox() {}

    /**
     * The four output words for counter (c0, c1, c2, c3) under the 64-bit key {@code seed}, written to {@code out}.
     */
    public static void block(long seed, int c0, int c1, int c2, int c3, int[] out) {
        int k0 = (int) seed;
        int k1 = (int) (seed >>> 32);
        for (int round = 0; round < 10; round++) {
            long p0 = (M0 & 0xffffffffL) * (c0 & 0xffffffffL);
            long p1 = (M1 & 0xffffffffL) * (c2 & 0xffffffffL);
            int hi0 = (int) (p0 >>> 32);
            int lo0 = (int) p0;
            int hi1 = (int) (p1 >>> 32);
            int lo1 = (int) p1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
            k0 += W0;
            k1 += W1;
        }
        out[0] = c0;
        out[1] = c1;
        out[2] = c2;
        out[3] = c3;
    }

    /** A 32-bit word to a float uniform in [0, 1) with 24 random bits (exactly representable, as on the GPU). */
    public static float toUniform(int word) {
        return (word >>> 8) * INV_2_24;
    }

    /** Element {@code n} of stream {@code stream} as a float uniform in [0, 1). */
    public static float uniform(long seed, int stream, long n) {
        int[] w = new int[4];
        long blockIndex = n >>> 2;
        block(seed, (int) blockIndex, (int) (blockIndex >>> 32), stream, 0, w);
        return toUniform(w[(int) (n & 3)]);
    }

    /**
     * A sequential reader over one stream that computes each Philox block once for four elements; kernels iterate
     * with it instead of calling {@link #uniform} per element.
     */
    public static final class Stream {
        private final long seed;
        private final int stream;
        private final int[] words = new int[4];
        private long cachedBlock = -1;

        public Stream(long seed, int stream) {
            this.seed = seed;
            this.stream = stream;
        }

        /** Element {@code n} as a uniform float in [0, 1). */
        public float uniform(long n) {
            return toUniform(word(n));
        }

        /** Element {@code n}'s raw 32-bit word. */
        public int word(long n) {
            long b = n >>> 2;
            if (b != cachedBlock) {
                block(seed, (int) b, (int) (b >>> 32), stream, 0, words);
                cachedBlock = b;
            }
            return words[(int) (n & 3)];
        }

        /**
         * Element {@code n} of the standard normal stream: Box–Muller on lanes 0 and 1 of block {@code n >>> 1},
         * cosine branch for even n, sine for odd.
         */
        public double normal(long n) {
            long pair = n >>> 1;
            int w0 = word(pair * 4);
            int w1 = word(pair * 4 + 1);
            double u1 = ((w0 >>> 8) + 1) * (double) INV_2_24; // (0, 1]: log is finite
            double u2 = (w1 >>> 8) * (double) INV_2_24;
            double r = Math.sqrt(-2 * Math.log(u1));
            double theta = 2 * Math.PI * u2;
            return (n & 1) == 0 ? r * Math.cos(theta) : r * Math.sin(theta);
        }
    }
}
