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
import ai.fulgur.ops.activation.GeluForm;
import java.util.ArrayList;
import java.util.List;

/**
 * A GPT-style language model (GPT-2 is one configuration of it): token and learned position embeddings, L pre-LN
 * {@link TransformerBlock}s with causal {@link FlashMultiHeadAttention}, a final LayerNorm and a linear LM head
 * without bias:
 *
 * <pre>
 *   x = wte[tokens] + wpe[0:T]
 *   x = block_l(x)  for l = 0 .. L−1
 *   logits = layerNorm(x) · Wheadᵀ      Whead = wte when the head is tied (GPT-2), its own (V, C) weight otherwise
 * </pre>
 *
 * <p>Shapes: input tokens (B, T) INT32 or INT64 with T ≤ maxLength; parameters {@code token_embedding} (V, C) and
 * {@code position_embedding} (maxLength, C), both N(0, 0.02²) initially; children {@code block0} … {@code block<L−1>},
 * {@code final_norm}, and {@code lm_head} (weight (V, C)) unless the head is tied; output logits (B, T, V). It runs
 * on any engine; on Fulgur the attention is FlashAttention, elsewhere it is composed from standard ops.
 *
 * <p>Options: a tied head (the token embedding is the head's weight, one parameter receiving both gradients), the
 * GELU form and layer norm epsilon of every layer, the MLP hidden size, dropout.
 *
 * <p>Generation: {@link #newCache} and {@link #forwardCached} run new tokens only, reading the keys and values of
 * earlier positions from a {@link KvCache}; prefill a prompt, then feed one token at a time. The general
 * {@link #forwardCached(ParameterStore, NDArray, int[], CachedAttention, int[])} takes per-token positions and any
 * {@link CachedAttention}, so the serving engine runs the same layers over its paged cache.
 */
public class CausalTransformer extends AbstractBlock {
    private static final byte VERSION = 1;

    private final int vocabSize;
    private final int maxLength;
    private final int embeddingSize;
    private final float embeddingDropout;
    private final boolean tiedHead;
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
        this.embeddingDropout = b.embeddingDropout >= 0 ? b.embeddingDropout : b.dropout;
        this.tiedHead = b.tiedHead;
        tokenEmbedding = addParameter(Parameter.builder().setName("token_embedding").setType(Parameter.Type.WEIGHT)
                .optInitializer(new NormalInitializer(0.02f)).optShape(new Shape(vocabSize, embeddingSize)).build());
        positionEmbedding = addParameter(Parameter.builder().setName("position_embedding")
                .setType(Parameter.Type.WEIGHT).optInitializer(new NormalInitializer(0.02f))
                .optShape(new Shape(maxLength, embeddingSize)).build());
        for (int l = 0; l < b.numLayers; l++) {
            blocks.add(addChildBlock("block" + l, TransformerBlock.builder().setEmbeddingSize(embeddingSize)
                    .setNumHeads(b.numHeads).optNumKvHeads(b.numKvHeads).optCausal(true)
                    .optAttentionDropout(b.attentionDropout).optDropout(b.dropout).optGeluForm(b.geluForm)
                    .optLayerNormEpsilon(b.layerNormEpsilon).optMlpHiddenSize(b.mlpHiddenSize).build()));
        }
        finalNorm = addChildBlock("final_norm", LayerNorm.builder().axis(2).optEpsilon(b.layerNormEpsilon).build());
        lmHead = tiedHead ? null
                : addChildBlock("lm_head", Linear.builder().setUnits(vocabSize).optBias(false).build());
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
        NDArray x = embed(ps, tokens, 0, training);                                    // (B, T, C)
        if (training && embeddingDropout > 0) {
            x = Dropout.dropout(x, embeddingDropout, true).head();
        }
        for (TransformerBlock block : blocks) {
            x = block.forward(ps, new NDList(x), training, params).head();
        }
        return new NDList(head(ps, x, training, params));                             // (B, T, V)
    }

    /**
     * Inference over new tokens with a key/value cache: the tokens take positions [start, start + n), start =
     * {@code cache.length()}; each layer writes their keys and values into the cache and attends over all earlier
     * positions too; the cache then advances by n. Prefill a prompt with one call, then feed one token per call: the
     * logits equal those of {@link #forward} over the whole sequence. Dropout is off; nothing is recorded unless a
     * gradient collector is open (call it outside one).
     *
     * @param tokens           (B, n) INT32 or INT64, B the cache's batch size and start + n ≤ maxLength
     * @param cache            from {@link #newCache}, written in place
     * @param lastPositionOnly whether to compute the logits of the last new position only (what sampling needs)
     * @return logits (B, n, V), or (B, 1, V) for the last position only, in the tokens' manager
     */
    public NDArray forwardCached(ParameterStore ps, NDArray tokens, KvCache cache, boolean lastPositionOnly) {
        Shape s = tokens.getShape();
        if (s.dimension() != 2 || s.get(1) < 1 || s.get(0) != cache.batchSize()) {
            throw new IllegalArgumentException("forwardCached takes tokens (B, n) with B = the cache's batch size "
                    + cache.batchSize() + " and n >= 1, got " + s);
        }
        if (cache.layers() != blocks.size()) {
            throw new IllegalArgumentException("KV cache has " + cache.layers() + " layers, the model "
                    + blocks.size());
        }
        int b = Math.toIntExact(s.get(0));
        int n = Math.toIntExact(s.get(1));
        int start = cache.length();
        if (start + n > maxLength) {
            throw new IllegalArgumentException("positions [" + start + ", " + (start + n) + ") exceed maxLength "
                    + maxLength + " (the position embedding's rows)");
        }
        cache.checkRoom(n);
        int[] positions = new int[b * n];
        int[] lastRows = new int[b];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < n; j++) {
                positions[i * n + j] = start + j;
            }
            lastRows[i] = i * n + n - 1;
        }
        NDArray logits = forwardCached(ps, tokens, positions, cache, lastPositionOnly ? lastRows : null);
        cache.advance(n);
        return lastPositionOnly ? logits.reshape(b, 1, vocabSize) : logits;
    }

    /**
     * Inference over new tokens at explicit positions through any {@link CachedAttention}: the general form of the
     * cached forward, for a ragged batch of sequences flattened into one row (B = 1, n = T tokens, each with its own
     * position in its own sequence) as the serving engine's paged cache runs it. Only the rows in
     * {@code outputRows} go through the final norm and the LM head (sampling needs one row per sequence).
     *
     * @param tokens     (B, n) INT32 or INT64
     * @param positions  B·n position ids, row-major like tokens, each in [0, maxLength)
     * @param cache      stores each layer's keys and values and attends (it knows which sequence a token is in)
     * @param outputRows indices into the B·n tokens whose logits are wanted, or null for all
     * @return logits (R, V) for R output rows, or (B, n, V) when {@code outputRows} is null, in the tokens' manager
     */
    public NDArray forwardCached(ParameterStore ps, NDArray tokens, int[] positions, CachedAttention cache,
            int[] outputRows) {
        Shape s = tokens.getShape();
        if (s.dimension() != 2 || s.get(1) < 1) {
            throw new IllegalArgumentException("forwardCached takes tokens (B, n) with n >= 1, got " + s);
        }
        long count = s.size();
        if (positions.length != count) {
            throw new IllegalArgumentException("forwardCached needs one position per token: " + count + " tokens "
                    + s + ", got " + positions.length + " positions");
        }
        for (int i = 0; i < positions.length; i++) {
            if (positions[i] < 0 || positions[i] >= maxLength) {
                throw new IllegalArgumentException("position " + positions[i] + " of token " + i + " is outside [0, "
                        + "maxLength " + maxLength + ") (the position embedding's rows)");
            }
        }
        if (outputRows != null) {
            for (int r : outputRows) {
                if (r < 0 || r >= count) {
                    throw new IllegalArgumentException("output row " + r + " is outside the " + count + " tokens");
                }
            }
        }
        NDManager m = tokens.getManager();
        NDArray x = embed(ps, tokens, m.create(positions, s), false);                      // (B, n, C)
        for (int l = 0; l < blocks.size(); l++) {
            x = blocks.get(l).forwardCached(ps, x, cache, l);
        }
        if (outputRows == null) {
            return head(ps, x, false, null);                                               // (B, n, V)
        }
        // gather the wanted rows of the flattened tokens: an embedding lookup with x as the table
        NDArray rows = m.create(outputRows, new Shape(1, outputRows.length));
        NDArray picked = Embedding.embedding(rows, x.reshape(count, embeddingSize), SparseFormat.DENSE).head();
        return head(ps, picked, false, null).reshape(outputRows.length, vocabSize);        // (R, V)
    }

    /**
     * An empty cache for {@code batchSize} sequences of up to maxLength positions, FLOAT32, in {@code manager}
     * (on the model's engine and device). The model must be initialized.
     */
    public KvCache newCache(NDManager manager, int batchSize) {
        AbstractMultiHeadAttention attention = blocks.get(0).getAttention();
        int heads = attention.getNumHeads();
        return KvCache.allocate(manager, blocks.size(), batchSize, maxLength, attention.getNumKvHeads(),
                embeddingSize / heads, DataType.FLOAT32);
    }

    /** wte[tokens] + wpe[start : start + T] for tokens (B, T); in the tokens' manager. */
    private NDArray embed(ParameterStore ps, NDArray tokens, long start, boolean training) {
        long t = tokens.getShape().get(1);
        NDArray wte = ps.getValue(tokenEmbedding, tokens.getDevice(), training);
        NDArray wpe = ps.getValue(positionEmbedding, tokens.getDevice(), training);
        // the slice goes to the tokens' manager, not the parameter's, so it dies with the batch
        NDArray positions = wpe.get(tokens.getManager(), new NDIndex("{}:{}", start, start + t)); // (T, C)
        return Embedding.embedding(tokens, wte, SparseFormat.DENSE).head().add(positions);
    }

    /** wte[tokens] + wpe[positions] for tokens and positions (B, T): each token at its own position. */
    private NDArray embed(ParameterStore ps, NDArray tokens, NDArray positions, boolean training) {
        NDArray wte = ps.getValue(tokenEmbedding, tokens.getDevice(), training);
        NDArray wpe = ps.getValue(positionEmbedding, tokens.getDevice(), training);
        return Embedding.embedding(tokens, wte, SparseFormat.DENSE).head()
                .add(Embedding.embedding(positions, wpe, SparseFormat.DENSE).head());
    }

    /** Logits layerNorm(x) · Wheadᵀ (B, T, V) for x (B, T, C). */
    private NDArray head(ParameterStore ps, NDArray x, boolean training, PairList<String, Object> params) {
        NDArray h = TransformerBlock.normForProjection(finalNorm, ps, x, training, params); // read by the head alone
        if (tiedHead) {
            return Linear.linear(h, ps.getValue(tokenEmbedding, h.getDevice(), training)).head();
        }
        return lmHead.forward(ps, new NDList(h), training, params).head();
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
        if (lmHead != null) {
            lmHead.initialize(manager, dataType, x);
        }
    }

    private void checkInput(Shape tokens) {
        if (tokens.dimension() != 2 || tokens.get(1) > maxLength) {
            throw new IllegalArgumentException("CausalTransformer takes tokens (B, T) with T <= maxLength " + maxLength
                    + ", got " + tokens);
        }
    }

    /**
     * Freezes the token and position embeddings (with a tied head, the head too) and the first {@code layers}
     * transformer blocks, so fine-tuning trains only the rest.
     */
    public void freezeEmbeddingsAndLayers(int layers) {
        if (layers < 0 || layers > blocks.size()) {
            throw new IllegalArgumentException("can freeze 0 to " + blocks.size() + " layers, got " + layers);
        }
        tokenEmbedding.freeze(true);
        positionEmbedding.freeze(true);
        for (int l = 0; l < layers; l++) {
            blocks.get(l).freezeParameters(true);
        }
    }

    /**
     * Turns activation recomputation on or off for every transformer block (see
     * {@link TransformerBlock#setRecompute}): training keeps only each block's input and recomputes the rest in the
     * backward pass, for long sequences or big batches that would not fit otherwise.
     */
    public void setRecompute(boolean on) {
        for (TransformerBlock b : blocks) {
            b.setRecompute(on);
        }
    }

    /** The vocabulary size V. */
    public int getVocabSize() {
        return vocabSize;
    }

    /** The longest sequence (rows of the position embedding). */
    public int getMaxLength() {
        return maxLength;
    }

    /** The embedding size C. */
    public int getEmbeddingSize() {
        return embeddingSize;
    }

    /** Whether the LM head is the token embedding. */
    public boolean isTiedHead() {
        return tiedHead;
    }

    /** The token embedding (V, C) (GPT-2's {@code wte}). */
    public Parameter getTokenEmbedding() {
        return tokenEmbedding;
    }

    /** The position embedding (maxLength, C) (GPT-2's {@code wpe}). */
    public Parameter getPositionEmbedding() {
        return positionEmbedding;
    }

    /** The transformer layers, first to last. */
    public List<TransformerBlock> getLayers() {
        return List.copyOf(blocks);
    }

    /** The final layer norm (GPT-2's {@code ln_f}). */
    public LayerNorm getFinalNorm() {
        return finalNorm;
    }

    /** The untied LM head (weight (V, C)), or null when the head is tied to the token embedding. */
    public Linear getLmHead() {
        return lmHead;
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
        private float embeddingDropout = -1;
        private float attentionDropout;
        private boolean tiedHead;
        private GeluForm geluForm = GeluForm.ERF;
        private float layerNormEpsilon = 1e-5f;
        private int mlpHiddenSize = -1;

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

        /** Sets the residual dropout in training, and the embedding dropout unless set apart; default 0. */
        public Builder optDropout(float dropout) {
            this.dropout = dropout;
            return this;
        }

        /** Sets the dropout on the summed embeddings in training; default the residual dropout. */
        public Builder optEmbeddingDropout(float embeddingDropout) {
            this.embeddingDropout = embeddingDropout;
            return this;
        }

        /** Sets the attention-weight dropout in training; default 0. */
        public Builder optAttentionDropout(float attentionDropout) {
            this.attentionDropout = attentionDropout;
            return this;
        }

        /** Sets whether the LM head reuses the token embedding as its weight (GPT-2); default false. */
        public Builder optTiedHead(boolean tiedHead) {
            this.tiedHead = tiedHead;
            return this;
        }

        /** Sets the GELU form of every MLP; default {@link GeluForm#ERF}; GPT-2 uses {@link GeluForm#TANH}. */
        public Builder optGeluForm(GeluForm geluForm) {
            this.geluForm = geluForm;
            return this;
        }

        /** Sets the epsilon of every layer norm; default 1e-5 (GPT-2's). */
        public Builder optLayerNormEpsilon(float layerNormEpsilon) {
            this.layerNormEpsilon = layerNormEpsilon;
            return this;
        }

        /** Sets the MLP hidden size F of every layer; default 4·C. */
        public Builder optMlpHiddenSize(int mlpHiddenSize) {
            this.mlpHiddenSize = mlpHiddenSize;
            return this;
        }

        /** Builds the model; fails for a missing or invalid size. */
        public CausalTransformer build() {
            if (vocabSize <= 0 || maxLength <= 0 || embeddingSize <= 0 || numLayers <= 0) {
                throw new IllegalArgumentException("vocabSize, maxLength, embeddingSize and numLayers must be set to "
                        + "positive numbers, got " + vocabSize + ", " + maxLength + ", " + embeddingSize + ", "
                        + numLayers);
            }
            if (embeddingDropout != -1 && !(embeddingDropout >= 0 && embeddingDropout < 1)) {
                throw new IllegalArgumentException("embeddingDropout must be in [0, 1), got " + embeddingDropout);
            }
            return new CausalTransformer(this);
        }
    }
}
