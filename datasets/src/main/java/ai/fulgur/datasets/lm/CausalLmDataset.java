package ai.fulgur.datasets.lm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.util.Progress;
import ai.fulgur.datasets.shard.TokenSource;
import java.util.Arrays;
import java.util.Objects;

/**
 * Next-token prediction samples from a token corpus (shards or an array): each sample is a window of
 * {@code T + 1} consecutive tokens, where {@code T} is the block size,
 * <pre>
 *   corpus   ... t[s] t[s+1] ... t[s+T-1] t[s+T] ...
 *   data     input_ids = t[s .. s+T)      (T) INT32
 *   label    labels    = t[s+1 .. s+T]    (T) INT32, the next token of each input position
 * </pre>
 * Batched by DJL's default batchifier into {@code (B, T)}.
 *
 * <p>Two ways to place windows:
 * <ul>
 *   <li>{@link Windows#RANDOM} (training): sample {@code i} starts at a uniform position in
 *       {@code [0, N - T - 1]}, drawn from a generator seeded by {@code (seed, epoch * samplesPerEpoch + i)} only.
 *       Any sample can be redrawn alone, so a run resumed at step k sees exactly the samples it would have seen,
 *       and parallel prefetching changes nothing. Call {@link #setEpoch} at each epoch for fresh windows.
 *   <li>{@link Windows#SEQUENTIAL} (validation): sample {@code i} starts at {@code i * T}; the inputs of successive
 *       windows do not overlap and together cover the corpus once; {@code (N - 1) / T} samples.
 * </ul>
 * The dataset reads the source but does not own it: close the shards after training.
 */
public final class CausalLmDataset extends RandomAccessDataset {

    /** Where windows are placed. */
    public enum Windows {
        /** Uniform random starts, reproducible from the seed: for training. */
        RANDOM,
        /** Consecutive windows with non-overlapping inputs: for validation and test. */
        SEQUENTIAL
    }

    private final TokenSource tokens;
    private final int blockSize;
    private final Windows windows;
    private final long samples;
    private final long seed;
    private volatile long epoch;

    private CausalLmDataset(Builder builder) {
        super(builder);
        this.tokens = builder.tokens;
        this.blockSize = builder.blockSize;
        this.windows = builder.windows;
        this.seed = builder.seed;
        long sequential = (tokens.size() - 1) / blockSize;
        this.samples = windows == Windows.SEQUENTIAL ? sequential
                : builder.samplesPerEpoch > 0 ? builder.samplesPerEpoch : sequential;
    }

    /** @return a builder; set the tokens, the block size and DJL's sampling */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * @param manager creates the arrays
     * @param index the sample, in {@code [0, size())}
     * @return data {@code [input_ids (T) INT32]}, labels {@code [labels (T) INT32]}
     */
    @Override
    public Record get(NDManager manager, long index) {
        int[] window = window(index);
        NDArray inputs = manager.create(Arrays.copyOfRange(window, 0, blockSize));
        inputs.setName("input_ids");
        NDArray labels = manager.create(Arrays.copyOfRange(window, 1, blockSize + 1));
        labels.setName("labels");
        return new Record(new NDList(inputs), new NDList(labels));
    }

    /** @return the {@code T + 1} tokens of sample {@code index}: its inputs and, shifted by one, its labels */
    public int[] window(long index) {
        int[] window = new int[blockSize + 1];
        tokens.read(windowStart(index), window, 0, blockSize + 1);
        return window;
    }

    /**
     * @param index the sample, in {@code [0, size())}
     * @return the corpus position of the sample's first token
     */
    public long windowStart(long index) {
        Objects.checkIndex(index, samples);
        if (windows == Windows.SEQUENTIAL) {
            return index * blockSize;
        }
        return SampleSeeds.random(seed, epoch * samples + index).nextLong(tokens.size() - blockSize);
    }

    /**
     * Moves random windows to those of another epoch (samples {@code epoch * size() + i} of the seed's stream).
     * Sequential windows do not change.
     *
     * @param epoch the epoch, from 0
     */
    public void setEpoch(long epoch) {
        if (epoch < 0) {
            throw new IllegalArgumentException("epoch must be at least 0, got " + epoch);
        }
        this.epoch = epoch;
    }

    /** @return the epoch set by {@link #setEpoch}, 0 at first */
    public long epoch() {
        return epoch;
    }

    /** @return the block size T */
    public int blockSize() {
        return blockSize;
    }

    /** @return how windows are placed */
    public Windows windows() {
        return windows;
    }

    @Override
    protected long availableSize() {
        return samples;
    }

    /** Nothing to prepare: windows are read on demand. */
    @Override
    public void prepare(Progress progress) {
    }

    /** Options of a {@link CausalLmDataset}. */
    public static final class Builder extends BaseBuilder<Builder> {
        private TokenSource tokens;
        private int blockSize;
        private Windows windows = Windows.RANDOM;
        private long samplesPerEpoch;
        private long seed = 1337;

        private Builder() {
        }

        @Override
        protected Builder self() {
            return this;
        }

        /** @param tokens the corpus: {@link ai.fulgur.datasets.shard.TokenShards}, a shard, or an array */
        public Builder setTokens(TokenSource tokens) {
            this.tokens = Objects.requireNonNull(tokens, "tokens");
            return this;
        }

        /** @param tokens a corpus in memory, for small built-in tasks; not copied */
        public Builder setTokens(int[] tokens) {
            return setTokens(TokenSource.of(tokens));
        }

        /** @param blockSize T, the tokens of input per sample (the model's context length), at least 1 */
        public Builder setBlockSize(int blockSize) {
            if (blockSize < 1) {
                throw new IllegalArgumentException("blockSize must be at least 1, got " + blockSize);
            }
            this.blockSize = blockSize;
            return this;
        }

        /** @param windows RANDOM (default) or SEQUENTIAL */
        public Builder optWindows(Windows windows) {
            this.windows = Objects.requireNonNull(windows, "windows");
            return this;
        }

        /**
         * @param samples windows per epoch in RANDOM mode; default {@code (N - 1) / T}, about one pass over the
         *     corpus. Ignored in SEQUENTIAL mode.
         */
        public Builder optSamplesPerEpoch(long samples) {
            if (samples < 1) {
                throw new IllegalArgumentException("samples per epoch must be at least 1, got " + samples);
            }
            this.samplesPerEpoch = samples;
            return this;
        }

        /** @param seed the seed of the random windows; default 1337 */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * @return the dataset
         * @throws IllegalStateException if the tokens, block size or sampling are not set
         * @throws IllegalArgumentException if the corpus is shorter than one window of {@code T + 1} tokens
         */
        public CausalLmDataset build() {
            if (tokens == null || blockSize == 0) {
                throw new IllegalStateException("set the tokens and the block size before build()");
            }
            if (sampler == null) {
                throw new IllegalStateException("set DJL's sampling before build(), e.g. setSampling(batchSize, true)");
            }
            if (tokens.size() < blockSize + 1L) {
                throw new IllegalArgumentException("a corpus of " + tokens.size() + " tokens is shorter than one "
                        + "window of blockSize + 1 = " + (blockSize + 1L) + " tokens (" + tokens + ")");
            }
            return new CausalLmDataset(this);
        }
    }
}
