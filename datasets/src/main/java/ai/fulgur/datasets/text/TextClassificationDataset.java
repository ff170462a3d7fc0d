package ai.fulgur.datasets.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.util.Progress;
import ai.fulgur.datasets.tokenizer.BertEncoding;
import ai.fulgur.datasets.tokenizer.WordPieceTokenizer;
import java.util.List;
import java.util.Objects;

/**
 * Sequence classification samples for BERT fine-tuning: each example's text is WordPiece-encoded as
 * {@code [CLS] text [SEP] [PAD]...} ({@link WordPieceTokenizer#encodeSingle}, the text cut to {@code T - 2} tokens).
 *
 * <pre>
 *   data   input_ids       (T) INT32
 *          token_type_ids  (T) INT32   all 0
 *          attention_mask  (T) INT32   1 for the real tokens ([CLS] and [SEP] included), 0 for padding
 *   label  label           ()  INT32   the class id (batched: (B))
 * </pre>
 * Texts are encoded when a sample is read; the tokenizer is thread-safe, so prefetching threads may share it.
 */
public final class TextClassificationDataset extends RandomAccessDataset {

    private final List<LabeledText> examples;
    private final WordPieceTokenizer tokenizer;
    private final int maxLength;

    private TextClassificationDataset(Builder builder) {
        super(builder);
        this.examples = builder.examples;
        this.tokenizer = builder.tokenizer;
        this.maxLength = builder.maxLength;
    }

    /** @return a builder; set the examples, the tokenizer, the row length and DJL's sampling */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * @return data {@code [input_ids (T), token_type_ids (T), attention_mask (T)]}, labels {@code [label ()]}, all
     *     INT32
     */
    @Override
    public Record get(NDManager manager, long index) {
        LabeledText example = examples.get(Math.toIntExact(index));
        BertEncoding encoding = encode(index);
        NDArray inputIds = manager.create(encoding.inputIds());
        inputIds.setName("input_ids");
        NDArray tokenTypeIds = manager.create(encoding.tokenTypeIds());
        tokenTypeIds.setName("token_type_ids");
        NDArray validLength = manager.create(BertMask.of(encoding.realLength(), encoding.inputIds().length));
        validLength.setName("attention_mask");
        NDArray label = manager.create(example.label());
        label.setName("label");
        return new Record(new NDList(inputIds, tokenTypeIds, validLength), new NDList(label));
    }

    /** @return the encoding of example {@code index}: ids, token types and attention mask of length T */
    public BertEncoding encode(long index) {
        Objects.checkIndex(index, examples.size());
        return tokenizer.encodeSingle(examples.get((int) index).text(), maxLength);
    }

    /** @return the row length T */
    public int maxLength() {
        return maxLength;
    }

    @Override
    protected long availableSize() {
        return examples.size();
    }

    /** Nothing to prepare: texts are encoded on demand. */
    @Override
    public void prepare(Progress progress) {
    }

    /** Options of a {@link TextClassificationDataset}. */
    public static final class Builder extends BaseBuilder<Builder> {
        private List<LabeledText> examples;
        private WordPieceTokenizer tokenizer;
        private int maxLength;

        private Builder() {
        }

        @Override
        protected Builder self() {
            return this;
        }

        /** @param examples the examples, e.g. {@link LabeledTextFile#examples()} or one side of a split */
        public Builder setExamples(List<LabeledText> examples) {
            this.examples = List.copyOf(examples);
            return this;
        }

        /** @param tokenizer the model's WordPiece vocabulary */
        public Builder setTokenizer(WordPieceTokenizer tokenizer) {
            this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
            return this;
        }

        /** @param maxLength T, the row length with [CLS], [SEP] and padding; at least 2 */
        public Builder setMaxLength(int maxLength) {
            if (maxLength < 2) {
                throw new IllegalArgumentException("maxLength must be at least 2 ([CLS] and [SEP]), got "
                        + maxLength);
            }
            this.maxLength = maxLength;
            return this;
        }

        /**
         * @return the dataset
         * @throws IllegalStateException if the examples, tokenizer, row length or sampling are not set
         */
        public TextClassificationDataset build() {
            if (examples == null || tokenizer == null || maxLength == 0) {
                throw new IllegalStateException("set the examples, the tokenizer and maxLength before build()");
            }
            if (sampler == null) {
                throw new IllegalStateException("set DJL's sampling before build(), e.g. setSampling(batchSize, true)");
            }
            return new TextClassificationDataset(this);
        }
    }
}
