package ai.fulgur.datasets.lm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.util.Progress;
import ai.fulgur.datasets.shard.TokenSource;
import ai.fulgur.datasets.tokenizer.WordPieceTokenizer;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * BERT's masked-language-model samples from WordPiece token sequences. Each sequence becomes one row of length T
 * ({@code maxLength}): {@code [CLS] tokens [SEP]} then {@code [PAD]}s, the tokens cut to {@code T - 2}. Of the
 * row's ordinary positions, {@code max(1, round(n * 0.15))} are chosen (as BERT's
 * {@code create_pretraining_data.py}); each chosen token is replaced by {@code [MASK]} with probability 0.8, by a
 * random ordinary token with probability 0.1, and left as it is otherwise; the model must predict the original.
 * Special tokens ({@code [CLS] [SEP] [PAD] [MASK] [UNK]}) are never chosen nor drawn as replacements.
 *
 * <pre>
 *   data   input_ids       (T) INT32   the masked row
 *          token_type_ids  (T) INT32   all 0
 *          attention_mask  (T) INT32   1 for the real tokens ([CLS] and [SEP] included), 0 for the padding after
 *                                      them (Hugging Face's input; the attention kernels take its row sums)
 *   label  mlm_labels      (T) INT32   the original token at chosen positions, -100 (ignore) elsewhere
 * </pre>
 *
 * Sources: a list of sequences (one row each), or a token corpus cut into consecutive rows of {@code T - 2}
 * tokens. Masking is drawn from a generator seeded by {@code (seed, epoch * size() + index)} only, so a sample is
 * reproducible alone; {@link #setEpoch} gives each epoch new masks (RoBERTa's dynamic masking), epoch 0 by default.
 */
public final class MaskedLmDataset extends RandomAccessDataset {

    /** Label of positions that are not predicted (PyTorch's and Hugging Face's ignore index). */
    public static final int IGNORE_INDEX = -100;

    private final List<int[]> sequences; // null when reading a corpus
    private final TokenSource corpus;
    private final int maxLength;
    private final long rows;
    private final long seed;
    private final double maskProbability;
    private final double maskTokenProbability;
    private final double randomTokenProbability;
    private final int vocabSize;
    private final int clsId;
    private final int sepId;
    private final int padId;
    private final int maskId;
    private final boolean[] special; // by token id
    private volatile long epoch;

    private MaskedLmDataset(Builder builder) {
        super(builder);
        this.sequences = builder.sequences;
        this.corpus = builder.corpus;
        this.maxLength = builder.maxLength;
        this.rows = sequences != null ? sequences.size() : Math.ceilDiv(corpus.size(), maxLength - 2);
        this.seed = builder.seed;
        this.maskProbability = builder.maskProbability;
        this.maskTokenProbability = builder.maskTokenProbability;
        this.randomTokenProbability = builder.randomTokenProbability;
        WordPieceTokenizer tokenizer = builder.tokenizer;
        this.vocabSize = tokenizer.vocabSize();
        this.clsId = tokenizer.clsId();
        this.sepId = tokenizer.sepId();
        this.padId = tokenizer.padId();
        this.maskId = tokenizer.maskId();
        this.special = new boolean[vocabSize];
        for (int id : tokenizer.specialTokens().values()) {
            special[id] = true;
        }
    }

    /** @return a builder; set the tokenizer, the sequences or corpus, the row length and DJL's sampling */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * @return data {@code [input_ids (T), token_type_ids (T), attention_mask (T)]}, labels {@code [mlm_labels (T)]},
     *     all INT32
     */
    @Override
    public Record get(NDManager manager, long index) {
        MaskedLmSample sample = sample(index);
        NDArray inputIds = manager.create(sample.inputIds());
        inputIds.setName("input_ids");
        NDArray tokenTypeIds = manager.create(sample.tokenTypeIds());
        tokenTypeIds.setName("token_type_ids");
        NDArray validLength = manager.create(ai.fulgur.datasets.text.BertMask.of(sample.validLength(),
                sample.inputIds().length));
        validLength.setName("attention_mask");
        NDArray labels = manager.create(sample.labels());
        labels.setName("mlm_labels");
        return new Record(new NDList(inputIds, tokenTypeIds, validLength), new NDList(labels));
    }

    /**
     * @param index the row, in {@code [0, size())}
     * @return the row's tokens before masking, cut to {@code T - 2}, with no special token added
     */
    public int[] tokens(long index) {
        Objects.checkIndex(index, rows);
        if (sequences != null) {
            int[] sequence = sequences.get((int) index);
            return Arrays.copyOf(sequence, Math.min(sequence.length, maxLength - 2));
        }
        long from = index * (maxLength - 2);
        int[] out = new int[(int) Math.min(maxLength - 2, corpus.size() - from)];
        corpus.read(from, out, 0, out.length);
        return out;
    }

    /** @return row {@code index}, masked; the same for the same (seed, epoch, index) */
    public MaskedLmSample sample(long index) {
        int[] tokens = tokens(index);
        int[] inputIds = new int[maxLength];
        int[] labels = new int[maxLength];
        Arrays.fill(labels, IGNORE_INDEX);
        inputIds[0] = clsId;
        for (int i = 0; i < tokens.length; i++) {
            int token = tokens[i];
            if (token < 0 || token >= vocabSize) {
                throw new IllegalArgumentException("token " + token + " at position " + i + " of row " + index
                        + " is outside the vocabulary [0, " + vocabSize + ")");
            }
            inputIds[i + 1] = token;
        }
        int validLength = tokens.length + 2;
        inputIds[validLength - 1] = sepId;
        Arrays.fill(inputIds, validLength, maxLength, padId);

        // the ordinary positions, then a partial Fisher-Yates shuffle picks k of them
        int[] candidates = new int[tokens.length];
        int n = 0;
        for (int t = 1; t < validLength - 1; t++) {
            if (!special[inputIds[t]]) {
                candidates[n++] = t;
            }
        }
        SplittableRandom random = SampleSeeds.random(seed, epoch * rows + index);
        int k = n == 0 ? 0 : (int) Math.max(1, Math.round(n * maskProbability));
        for (int j = 0; j < k; j++) {
            int pick = j + random.nextInt(n - j);
            int t = candidates[pick];
            candidates[pick] = candidates[j];
            candidates[j] = t;
            labels[t] = inputIds[t];
            double r = random.nextDouble();
            if (r < maskTokenProbability) {
                inputIds[t] = maskId;
            } else if (r < maskTokenProbability + randomTokenProbability) {
                inputIds[t] = randomOrdinaryToken(random);
            } // else: kept, still predicted
        }
        return new MaskedLmSample(inputIds, new int[maxLength], validLength, labels);
    }

    private int randomOrdinaryToken(SplittableRandom random) {
        while (true) {
            int token = random.nextInt(vocabSize);
            if (!special[token]) {
                return token;
            }
        }
    }

    /** @param epoch selects new masks for every row (samples {@code epoch * size() + i}); from 0 */
    public void setEpoch(long epoch) {
        if (epoch < 0) {
            throw new IllegalArgumentException("epoch must be at least 0, got " + epoch);
        }
        this.epoch = epoch;
    }

    /** @return the row length T */
    public int maxLength() {
        return maxLength;
    }

    @Override
    protected long availableSize() {
        return rows;
    }

    /** Nothing to prepare: rows are masked on demand. */
    @Override
    public void prepare(Progress progress) {
    }

    /** Options of a {@link MaskedLmDataset}. */
    public static final class Builder extends BaseBuilder<Builder> {
        private WordPieceTokenizer tokenizer;
        private List<int[]> sequences;
        private TokenSource corpus;
        private int maxLength;
        private long seed = 1337;
        private double maskProbability = 0.15;
        private double maskTokenProbability = 0.8;
        private double randomTokenProbability = 0.1;

        private Builder() {
        }

        @Override
        protected Builder self() {
            return this;
        }

        /** @param tokenizer gives the vocabulary size and the ids of [CLS] [SEP] [PAD] [MASK] [UNK] */
        public Builder setTokenizer(WordPieceTokenizer tokenizer) {
            this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
            return this;
        }

        /** @param sequences WordPiece ids without special tokens, one row each (longer ones are cut); not copied */
        public Builder setSequences(List<int[]> sequences) {
            this.sequences = Objects.requireNonNull(sequences, "sequences");
            this.corpus = null;
            return this;
        }

        /** @param corpus WordPiece ids (a shard of them), cut into consecutive rows of {@code T - 2} tokens */
        public Builder setTokens(TokenSource corpus) {
            this.corpus = Objects.requireNonNull(corpus, "corpus");
            this.sequences = null;
            return this;
        }

        /** @param maxLength T, the row length with [CLS], [SEP] and padding; at least 3 */
        public Builder setMaxLength(int maxLength) {
            if (maxLength < 3) {
                throw new IllegalArgumentException("maxLength must be at least 3 ([CLS], a token, [SEP]), got "
                        + maxLength);
            }
            this.maxLength = maxLength;
            return this;
        }

        /** @param seed the seed of the masks; default 1337 */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /** @param p the share of ordinary positions chosen for prediction; default 0.15 */
        public Builder optMaskProbability(double p) {
            this.maskProbability = probability("mask probability", p);
            return this;
        }

        /**
         * @param mask the share of chosen positions replaced by [MASK]; default 0.8
         * @param random the share replaced by a random token; default 0.1 (the rest are kept)
         */
        public Builder optReplacement(double mask, double random) {
            probability("[MASK] share", mask);
            probability("random-token share", random);
            if (mask + random > 1) {
                throw new IllegalArgumentException("[MASK] share + random-token share must be at most 1, got "
                        + mask + " + " + random);
            }
            this.maskTokenProbability = mask;
            this.randomTokenProbability = random;
            return this;
        }

        private static double probability(String what, double p) {
            if (!(p >= 0 && p <= 1)) {
                throw new IllegalArgumentException(what + " must be in [0, 1], got " + p);
            }
            return p;
        }

        /**
         * @return the dataset
         * @throws IllegalStateException if the tokenizer, the source, the row length or sampling are not set
         */
        public MaskedLmDataset build() {
            if (tokenizer == null || (sequences == null && corpus == null) || maxLength == 0) {
                throw new IllegalStateException("set the tokenizer, the sequences or tokens, and maxLength before "
                        + "build()");
            }
            if (sampler == null) {
                throw new IllegalStateException("set DJL's sampling before build(), e.g. setSampling(batchSize, true)");
            }
            return new MaskedLmDataset(this);
        }
    }
}
