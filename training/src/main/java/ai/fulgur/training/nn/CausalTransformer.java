package ai.fulgur.training.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.List;

/**
 * A small GPT-style language model: token and learned position embeddings, L pre-LN {@link TransformerBlock}s with
 * causal {@link FlashMultiHeadAttention}, a final LayerNorm and a linear LM head (no bias, as GPT-2's):
 *
 * <pre>
 *   x = wte[tokens] + wpe[0:T]
 *   x = block_l(x)  for l = 0 .. L−1
 *   logits = layerNorm(x) · Wheadᵀ
 * </pre>
 *
 * <p>Shapes: input tokens (B, T) INT32 or INT64 with T ≤ maxLength; parameters {@code token_embedding} (V, C) and
 * {@code position_embedding} (maxLength, C), both N(0, 0.02²) initially; children {@code block0} … {@code block<L−1>},
 * {@code final_norm}, {@code lm_head} (weight (V, C)); output logits (B, T, V). It runs on any engine; on Fulgur the
 * attention is FlashAttention, elsewhere it is composed from standard ops.
 */
public class CausalTransformer extends AbstractBlock {
    private static final byte VERSION = 1;

    private final int vocabSize;
    private final int maxLength;
    private final int embeddingSize;
    private final float dropout;
    private final Parameter tokenEmbedding;
    private final Parameter positionEmbedding;
    private final List<TransformerBlock> blocks = new ArrayList<>();
    private final LayerNorm finalNorm;
    private final Linear lmHead;

    /** Builds the model from a validated builder. */
    protected CausalTransformer(Builder b) {
        super(VERSION);
        this.vocabSize = b.vocabSize;
        this.maxLength = b.maxLength;
        this.embeddingSize = b.embeddingSize;
        this.dropout = b.dropout;
        tokenEmbedding = addParameter(Parameter.builder().setName("token_embedding").setType(Parameter.Type.WEIGHT)
                .optInitializer(new NormalInitializer(0.02f)).optShape(new Shape(vocabSize, embeddingSize)).build());
        positionEmbedding = addParameter(Parameter.builder().setName("position_embedding")
                .setType(Parameter.Type.WEIGHT).optInitializer(new NormalInitializer(0.02f))
                .optShape(new Shape(maxLength, embeddingSize)).build());
        for (int l = 0; l < b.numLayers; l++) {
            blocks.add(addChildBlock("block" + l, TransformerBlock.builder().setEmbeddingSize(embeddingSize)
                    .setNumHeads(b.numHeads).optNumKvHeads(b.numKvHeads).optCausal(true)
                    .optAttentionDropout(b.attentionDropout).optDropout(b.dropout).build()));
        }
        finalNorm = addChildBlock("final_norm", LayerNorm.builder().axis(2).build());
        lmHead = addChildBlock("lm_head", Linear.builder().setUnits(vocabSize).optBias(false).build());
    }

    /** A builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
            PairList<String, Object> params) {
        NDArray tokens = inputs.singletonOrThrow();
        checkInput(tokens.getShape());
        long t = tokens.getShape().get(1);
        NDArray wte = ps.getValue(tokenEmbedding, tokens.getDevice(), training);
        NDArray wpe = ps.getValue(positionEmbedding, tokens.getDevice(), training);
        NDArray x = Embedding.embedding(tokens, wte, SparseFormat.DENSE).head()      // (B, T, C)
                .add(wpe.get(new NDIndex("0:{}", t)));                                 // + (T, C)
        if (training && dropout > 0) {
            x = Dropout.dropout(x, dropout, true).head();
        }
        for (TransformerBlock block : blocks) {
            x = block.forward(ps, new NDList(x), training, params).head();
        }
        x = finalNorm.forward(ps, new NDList(x), training, params).head();
        return lmHead.forward(ps, new NDList(x), training, params);                    // (B, T, V)
    }

    /** {@inheritDoc} Logits (B, T, V) for tokens (B, T). */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        checkInput(inputShapes[0]);
        return new Shape[] {new Shape(inputShapes[0].get(0), inputShapes[0].get(1), vocabSize)};
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        checkInput(inputShapes[0]);
        Shape x = new Shape(inputShapes[0].get(0), inputShapes[0].get(1), embeddingSize);
        for (TransformerBlock block : blocks) {
            block.initialize(manager, dataType, x);
        }
        finalNorm.initialize(manager, dataType, x);
        lmHead.initialize(manager, dataType, x);
    }

    private void checkInput(Shape tokens) {
        if (tokens.dimension() != 2 || tokens.get(1) > maxLength) {
            throw new IllegalArgumentException("CausalTransformer takes tokens (B, T) with T <= maxLength " + maxLength
                    + ", got " + tokens);
        }
    }

    /** The vocabulary size V. */
    public int getVocabSize() {
        return vocabSize;
    }

    /** The builder of {@link CausalTransformer}. */
    public static final class Builder {
        private int vocabSize;
        private int maxLength;
        private int embeddingSize;
        private int numLayers;
        private int numHeads;
        private int numKvHeads = -1;
        private float dropout;
        private float attentionDropout;

        Builder() {}

        /** Sets the vocabulary size V (required). */
        public Builder setVocabSize(int vocabSize) {
            this.vocabSize = vocabSize;
            return this;
        }

        /** Sets the longest sequence, the rows of the position embedding (required). */
        public Builder setMaxLength(int maxLength) {
            this.maxLength = maxLength;
            return this;
        }

        /** Sets the embedding size C (required). */
        public Builder setEmbeddingSize(int embeddingSize) {
            this.embeddingSize = embeddingSize;
            return this;
        }

        /** Sets the number of transformer layers L (required). */
        public Builder setNumLayers(int numLayers) {
            this.numLayers = numLayers;
            return this;
        }

        /** Sets the attention heads per layer (required; must divide C). */
        public Builder setNumHeads(int numHeads) {
            this.numHeads = numHeads;
            return this;
        }

        /** Sets the key/value heads for grouped-query attention; default the number of heads. */
        public Builder optNumKvHeads(int numKvHeads) {
            this.numKvHeads = numKvHeads;
            return this;
        }

        /** Sets the embedding and residual dropout in training; default 0. */
        public Builder optDropout(float dropout) {
            this.dropout = dropout;
            return this;
        }

        /** Sets the attention-weight dropout in training; default 0. */
        public Builder optAttentionDropout(float attentionDropout) {
            this.attentionDropout = attentionDropout;
            return this;
        }

        /** Builds the model; fails for a missing or invalid size. */
        public CausalTransformer build() {
            if (vocabSize <= 0 || maxLength <= 0 || embeddingSize <= 0 || numLayers <= 0) {
                throw new IllegalArgumentException("vocabSize, maxLength, embeddingSize and numLayers must be set to "
                        + "positive numbers, got " + vocabSize + ", " + maxLength + ", " + embeddingSize + ", "
                        + numLayers);
            }
            return new CausalTransformer(this);
        }
    }
}
