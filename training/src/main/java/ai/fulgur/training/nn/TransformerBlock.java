package ai.fulgur.training.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * A pre-LN transformer layer (GPT-2's):
 *
 * <pre>
 *   h = x + dropout(attention(layerNorm1(x), keyMask))
 *   y = h + dropout(proj(gelu(fc(layerNorm2(h)))))
 * </pre>
 *
 * <p>Shapes: input x (B, N, C) and an optional key mask (B, N) (see {@link AbstractMultiHeadAttention}); children
 * {@code attention_norm} and {@code mlp_norm} (LayerNorm over C, axis 2), {@code attention} (a {@link FlashMultiHeadAttention}
 * unless another attention block is given), {@code mlp_fc} (Linear C → r·C, r the MLP ratio) and {@code mlp_proj}
 * (Linear r·C → C); output y (B, N, C).
 */
public class TransformerBlock extends AbstractBlock {
    private static final byte VERSION = 1;

    private final int embeddingSize;
    private final float dropout;
    private final LayerNorm attentionNorm;
    private final AbstractMultiHeadAttention attention;
    private final LayerNorm mlpNorm;
    private final Linear fc;
    private final Linear proj;

    /** Builds the layer from a validated builder. */
    protected TransformerBlock(Builder builder) {
        super(VERSION);
        this.embeddingSize = builder.embeddingSize;
        this.dropout = builder.dropout;
        attentionNorm = addChildBlock("attention_norm", LayerNorm.builder().axis(2).build());
        attention = addChildBlock("attention", builder.attention != null ? builder.attention
                : FlashMultiHeadAttention.builder().setNumHeads(builder.numHeads).optNumKvHeads(builder.numKvHeads)
                        .optCausal(builder.causal).optAttentionDropout(builder.attentionDropout).build());
        mlpNorm = addChildBlock("mlp_norm", LayerNorm.builder().axis(2).build());
        fc = addChildBlock("mlp_fc", Linear.builder().setUnits((long) builder.mlpRatio * embeddingSize).build());
        proj = addChildBlock("mlp_proj", Linear.builder().setUnits(embeddingSize).build());
    }

    /** A builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
            PairList<String, Object> params) {
        NDArray x = inputs.get(0);
        NDList attentionIn = new NDList(attentionNorm.forward(ps, new NDList(x), training, params).head());
        if (inputs.size() > 1) {
            attentionIn.add(inputs.get(1));
        }
        NDArray h = x.add(dropout(attention.forward(ps, attentionIn, training, params).head(), training));
        NDArray m = mlpNorm.forward(ps, new NDList(h), training, params).head();
        m = Activation.gelu(fc.forward(ps, new NDList(m), training, params).head());
        m = proj.forward(ps, new NDList(m), training, params).head();
        return new NDList(h.add(dropout(m, training)));
    }

    private NDArray dropout(NDArray x, boolean training) {
        return training && dropout > 0 ? Dropout.dropout(x, dropout, true).head() : x;
    }

    /** {@inheritDoc} The output has the shape of x: (B, N, C). */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        checkInput(inputShapes[0]);
        return new Shape[] {inputShapes[0]};
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape x = inputShapes[0];
        checkInput(x);
        attentionNorm.initialize(manager, dataType, x);
        attention.initialize(manager, dataType, inputShapes);
        mlpNorm.initialize(manager, dataType, x);
        fc.initialize(manager, dataType, x);
        proj.initialize(manager, dataType, fc.getOutputShapes(new Shape[] {x}));
    }

    private void checkInput(Shape x) {
        if (x.dimension() != 3 || x.get(2) != embeddingSize) {
            throw new IllegalArgumentException("TransformerBlock input must be (B, N, " + embeddingSize + "), got "
                    + x);
        }
    }

    /** The attention sub-block. */
    public AbstractMultiHeadAttention getAttention() {
        return attention;
    }

    /** The builder of {@link TransformerBlock}. */
    public static final class Builder {
        private int embeddingSize;
        private int numHeads;
        private int numKvHeads = -1;
        private boolean causal;
        private float attentionDropout;
        private float dropout;
        private int mlpRatio = 4;
        private AbstractMultiHeadAttention attention;

        Builder() {}

        /** Sets the embedding size C (required). */
        public Builder setEmbeddingSize(int embeddingSize) {
            this.embeddingSize = embeddingSize;
            return this;
        }

        /** Sets the number of attention heads (required unless {@link #optAttention} is given). */
        public Builder setNumHeads(int numHeads) {
            this.numHeads = numHeads;
            return this;
        }

        /** Sets the key/value heads for grouped-query attention; default the number of heads. */
        public Builder optNumKvHeads(int numKvHeads) {
            this.numKvHeads = numKvHeads;
            return this;
        }

        /** Sets whether the attention is causal; default false. */
        public Builder optCausal(boolean causal) {
            this.causal = causal;
            return this;
        }

        /** Sets the attention-weight dropout in training; default 0. */
        public Builder optAttentionDropout(float attentionDropout) {
            this.attentionDropout = attentionDropout;
            return this;
        }

        /** Sets the dropout on both residual branches in training; default 0. */
        public Builder optDropout(float dropout) {
            this.dropout = dropout;
            return this;
        }

        /** Sets the MLP hidden size as a multiple of C; default 4. */
        public Builder optMlpRatio(int mlpRatio) {
            this.mlpRatio = mlpRatio;
            return this;
        }

        /** Uses this attention block (block-sparse, for one) instead of one built from the head options. */
        public Builder optAttention(AbstractMultiHeadAttention attention) {
            this.attention = attention;
            return this;
        }

        /** Builds the layer; fails for an invalid option. */
        public TransformerBlock build() {
            if (embeddingSize <= 0) {
                throw new IllegalArgumentException("embeddingSize must be set to a positive number, got "
                        + embeddingSize);
            }
            if (mlpRatio <= 0) {
                throw new IllegalArgumentException("mlpRatio must be positive, got " + mlpRatio);
            }
            if (!(dropout >= 0 && dropout < 1)) {
                throw new IllegalArgumentException("dropout must be in [0, 1), got " + dropout);
            }
            if (attention == null && (numHeads <= 0 || embeddingSize % numHeads != 0)) {
                throw new IllegalArgumentException("numHeads must be positive and divide embeddingSize "
                        + embeddingSize + ", got " + numHeads);
            }
            return new TransformerBlock(this);
        }
    }
}
