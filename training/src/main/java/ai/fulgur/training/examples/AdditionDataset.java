package ai.fulgur.training.examples;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.util.Progress;
import ai.fulgur.training.loss.TokenCrossEntropyLoss;

/**
 * Multi-digit addition problems as a causal-LM dataset, a task that needs no download and that a small transformer
 * visibly learns in minutes on a CPU. A problem {@code a + b} with d-digit operands is the token sequence
 *
 * <pre>
 *   a (d digits, zero-padded)  +  b (d digits)  =  (a + b) written backwards (d + 1 digits)  $
 * </pre>
 *
 * e.g. 047+985=2301$ for 47 + 985 = 1032. The sum is written least significant digit first so that each digit
 * depends on digits already produced and a carry, which a left-to-right model can learn. Sample i is drawn from a
 * Philox-free SplittableRandom keyed by (seed, i) alone, so any sample is reproducible on its own (exact resume).
 * Pairs are split by a hash into a training (9/10) and a held-out (1/10) set, so evaluation uses problems never seen.
 * A sample's data is the sequence without its last token, its label the sequence shifted by one with the prompt
 * positions set to the ignore index (only the answer is learned).
 */
public final class AdditionDataset extends RandomAccessDataset {
    /** Token ids: digits 0-9 are themselves. */
    public static final int PLUS = 10;
    /** The '=' token. */
    public static final int EQUALS = 11;
    /** The end token '$'. */
    public static final int END = 12;
    /** The vocabulary size. */
    public static final int VOCAB = 13;
    private static final String SYMBOLS = "0123456789+=$";

    private final int digits;
    private final long seed;
    private final boolean heldOut;
    private final long size;

    private AdditionDataset(Builder b) {
        super(b);
        digits = b.digits;
        seed = b.seed;
        heldOut = b.heldOut;
        size = b.size;
    }

    /** A builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** The length of a whole problem: 2d operand digits, '+', '=', d + 1 answer digits, '$'. */
    public static int sequenceLength(int digits) {
        return 3 * digits + 4;
    }

    /** The length of the prompt {@code a+b=}. */
    public static int promptLength(int digits) {
        return 2 * digits + 2;
    }

    /** The operands of sample {@code index}: a pair of the requested split. */
    public long[] operands(long index) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed * 0x9E3779B97F4A7C15L + index);
        long bound = pow10(digits);
        while (true) {
            long a = r.nextLong(bound);
            long b = r.nextLong(bound);
            if (isHeldOut(a, b) == heldOut) {
                return new long[] {a, b};
            }
        }
    }

    /** Whether the pair (a, b) belongs to the held-out tenth. */
    static boolean isHeldOut(long a, long b) {
        long h = (a * 0x9E3779B97F4A7C15L) ^ (b * 0xC2B2AE3D27D4EB4FL);
        h ^= h >>> 29;
        h *= 0xBF58476D1CE4E5B9L;
        h ^= h >>> 32;
        return Math.floorMod(h, 10) == 0;
    }

    /** The full token sequence of a + b. */
    public static int[] encode(long a, long b, int digits) {
        int[] t = new int[sequenceLength(digits)];
        int k = 0;
        k = putDigits(t, k, a, digits, false);
        t[k++] = PLUS;
        k = putDigits(t, k, b, digits, false);
        t[k++] = EQUALS;
        k = putDigits(t, k, a + b, digits + 1, true);
        t[k] = END;
        return t;
    }

    /** The prompt tokens {@code a+b=}. */
    public static int[] prompt(long a, long b, int digits) {
        return java.util.Arrays.copyOf(encode(a, b, digits), promptLength(digits));
    }

    /** Reads a backwards-written answer of d + 1 digits; -1 when a token is not a digit. */
    public static long decodeAnswer(int[] answer) {
        long value = 0;
        for (int i = answer.length - 1; i >= 0; i--) {
            if (answer[i] < 0 || answer[i] > 9) {
                return -1;
            }
            value = value * 10 + answer[i];
        }
        return value;
    }

    /** Tokens as text, e.g. "047+985=2301$". */
    public static String toText(int[] tokens) {
        StringBuilder s = new StringBuilder();
        for (int t : tokens) {
            s.append(t >= 0 && t < SYMBOLS.length() ? SYMBOLS.charAt(t) : '?');
        }
        return s.toString();
    }

    private static int putDigits(int[] t, int k, long value, int count, boolean leastFirst) {
        for (int i = 0; i < count; i++) {
            int digit = (int) (value / pow10(leastFirst ? i : count - 1 - i) % 10);
            t[k++] = digit;
        }
        return k;
    }

    private static long pow10(int e) {
        long p = 1;
        for (int i = 0; i < e; i++) {
            p *= 10;
        }
        return p;
    }

    /** The number of operand digits. */
    public int digits() {
        return digits;
    }

    /** {@inheritDoc} data: tokens (L−1) INT32; label: next tokens (L−1) INT32, prompt positions ignored. */
    @Override
    public Record get(NDManager manager, long index) {
        long[] ab = operands(index);
        int[] seq = encode(ab[0], ab[1], digits);
        int n = seq.length - 1;
        int[] input = java.util.Arrays.copyOf(seq, n);
        int[] label = new int[n];
        for (int i = 0; i < n; i++) {
            label[i] = i + 1 >= promptLength(digits) ? seq[i + 1] : TokenCrossEntropyLoss.IGNORE;
        }
        return new Record(new NDList(manager.create(input)), new NDList(manager.create(label)));
    }

    @Override
    protected long availableSize() {
        return size;
    }

    @Override
    public void prepare(Progress progress) {
    }

    /** The builder of {@link AdditionDataset}. */
    public static final class Builder extends BaseBuilder<Builder> {
        private int digits = 3;
        private long seed = 1;
        private boolean heldOut;
        private long size = 1 << 20;

        Builder() {
            setSampling(32, false);
        }

        @Override
        protected Builder self() {
            return this;
        }

        /** Operand digits, 1 to 9 (default 3). */
        public Builder optDigits(int digits) {
            if (digits < 1 || digits > 9) {
                throw new IllegalArgumentException("digits must be in [1, 9], got " + digits);
            }
            this.digits = digits;
            return this;
        }

        /** The seed of the problems (default 1). */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Draws from the held-out tenth of the pairs instead of the training nine tenths. */
        public Builder optHeldOut(boolean heldOut) {
            this.heldOut = heldOut;
            return this;
        }

        /** The number of samples (default 2^20). */
        public Builder optSize(long size) {
            if (size <= 0) {
                throw new IllegalArgumentException("size must be positive, got " + size);
            }
            this.size = size;
            return this;
        }

        /** Builds the dataset. */
        public AdditionDataset build() {
            return new AdditionDataset(this);
        }
    }
}
