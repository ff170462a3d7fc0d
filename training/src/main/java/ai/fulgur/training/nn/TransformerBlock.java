package ai.fulgur.training.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fulgur.autograd.Autocast;
import ai.fulgur.autograd.Variable;
import ai.fulgur.autograd.djl.FulgurEngine;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.autograd.functions.Recompute;
import ai.fulgur.ops.activation.GeluForm;
import java.util.ArrayList;
import java.util.List;

/**
 * A pre-LN transformer layer (GPT-2's):
 *
 * <pre>
 *   h = x + dropout(attention(layerNorm1(x), keyMask))
 *   y = h + dropout(proj(gelu(fc(layerNorm2(h)))))
 * </pre>
 *
 * <p>Shapes: input x (B, N, C) and an optional key mask (B, N) (see {@link AbstractMultiHeadAttention}); children
 * {@code attention_norm} and {@code mlp_norm} (LayerNorm over C, axis 2), {@code attention} (a
 * {@link FlashMultiHeadAttention} unless another attention block is given), {@code mlp_fc} (Linear C → F, F the MLP
 * hidden size, 4·C by default) and {@code mlp_proj} (Linear F → C); output y (B, N, C).
 *
 * <p>Options beyond the attention's: the GELU form (erf by default, as DJL's {@code Activation.gelu}; GPT-2 uses
 * tanh), the layer norm epsilon (1e-5 by default, GPT-2's) and the MLP hidden size. {@link #forwardCached} is the
 * inference path over a {@link CachedAttention} (a {@link KvCache} or a paged cache).
 */
public class TransformerBlock extends AbstractBlock {
    private static final byte VERSION = 1;

    private final int embeddingSize;
    private final float dropout;
    private final GeluForm geluForm;
    private final LayerNorm attentionNorm;
    private final AbstractMultiHeadAttention attention;
    private final LayerNorm mlpNorm;
    private final Linear fc;
    private final Linear proj;
    private boolean recompute;

    /** Builds the layer from a validated builder. */
    protected TransformerBlock(Builder builder) {
        super(VERSION);
        this.embeddingSize = builder.embeddingSize;
        this.dropout = builder.dropout;
        this.geluForm = builder.geluForm;
        attentionNorm = addChildBlock("attention_norm", LayerNorm.builder().axis(2)
                .optEpsilon(builder.layerNormEpsilon).build());
        attention = addChildBlock("attention", builder.attention != null ? builder.attention
                : FlashMultiHeadAttention.builder().setNumHeads(builder.numHeads).optNumKvHeads(builder.numKvHeads)
                        .optCausal(builder.causal).optAttentionDropout(builder.attentionDropout).build());
        mlpNorm = addChildBlock("mlp_norm", LayerNorm.builder().axis(2).optEpsilon(builder.layerNormEpsilon).build());
        long hidden = builder.mlpHiddenSize > 0 ? builder.mlpHiddenSize : (long) builder.mlpRatio * embeddingSize;
        fc = addChildBlock("mlp_fc", Linear.builder().setUnits(hidden).build());
        proj = addChildBlock("mlp_proj", Linear.builder().setUnits(embeddingSize).build());
    }

    /** A builder. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Activation recomputation: when on (and training on the Fulgur engine), the layer keeps only its input for the
     * backward pass and runs its forward again there (dropout replays the same masks), trading one extra forward for
     * the memory of all its activations.
     */
    public void setRecompute(boolean on) {
        this.recompute = on;
    }

    /** Whether activation recomputation is on. */
    public boolean isRecompute() {
        return recompute;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
            PairList<String, Object> params) {
        NDArray x = inputs.get(0);
        if (recompute && training && x.getManager().getEngine() instanceof FulgurEngine engine) {
            return new NDList(recomputed(engine, ps, inputs, params));
        }
        return new NDList(layer(ps, inputs, training, params));
    }

    /** The layer as a {@link Recompute} node: its activations are dropped after the forward and rebuilt in backward. */
    private NDArray recomputed(FulgurEngine engine, ParameterStore ps, NDList inputs,
            PairList<String, Object> params) {
        NDArray x = inputs.get(0);
        List<Variable> weights = new ArrayList<>();
        for (Pair<String, Parameter> p : getParameters()) {
            weights.add(FulgurNDArray.variableOf(ps.getValue(p.getValue(), x.getDevice(), true), "recompute"));
        }
        Variable out = Recompute.apply(in -> {
            // the layer's arrays live in a scope of their own, dropped as soon as the layer's output exists
            try (NDManager scope = x.getManager().newSubManager()) {
                NDList layerIn = new NDList(FulgurNDArray.wrap(scope, in));
                if (inputs.size() > 1) {
                    layerIn.add(inputs.get(1));
                }
                return FulgurNDArray.variableOf(layer(ps, layerIn, true, params), "recompute");
            }
        }, FulgurNDArray.variableOf(x, "recompute"), weights.toArray(Variable[]::new), () -> {
            long seed = engine.seed();
            long offset = engine.randomOffset();
            return () -> engine.restoreRandomState(seed, offset);
        });
        return FulgurNDArray.wrap(x.getManager(), out);
    }

    /** The layer's computation (see the class comment). */
    private NDArray layer(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.get(0);
        NDList attentionIn = new NDList(normForProjection(attentionNorm, ps, x, training, params));
        if (inputs.size() > 1) {
            attentionIn.add(inputs.get(1));
        }
        NDArray h = x.add(dropout(attention.forward(ps, attentionIn, training, params).head(), training));
        return h.add(dropout(mlp(ps, h, training, params), training));
    }

    /**
     * The layer over n new positions with a key/value cache, for inference: the attention hands this layer's new
     * queries, keys and values to {@code cache}, which stores the keys and values and attends over everything its
     * sequences cached before them too (see {@link CachedAttention}).
     *
     * @param x     the new positions (B, n, C)
     * @param layer this layer's index in the cache
     * @return y (B, n, C), in x's manager
     */
    public NDArray forwardCached(ParameterStore ps, NDArray x, CachedAttention cache, int layer) {
        checkInput(x.getShape());
        NDArray a = attentionNorm.forward(ps, new NDList(x), false, null).head();
        NDArray h = x.add(attention.forwardCached(ps, a, cache, layer));
        return h.add(mlp(ps, h, false, null));
    }

    /** proj(gelu(fc(layerNorm2(h)))) */
    private NDArray mlp(ParameterStore ps, NDArray h, boolean training, PairList<String, Object> params) {
        NDArray m = normForProjection(mlpNorm, ps, h, training, params);
        m = Gelu.apply(fc.forward(ps, new NDList(m), training, params).head(), geluForm);
        return proj.forward(ps, new NDList(m), training, params).head();
    }

    /**
     * layerNorm(x) for the projection that alone reads it (pre-LN: the attention's QKV or the MLP's first Linear): under
     * autocast on the Fulgur engine the norm writes the half type the projection computes in (see
     * {@link Autocast#forHalfReader}); elsewhere the block's own forward, unchanged.
     */
    static NDArray normForProjection(LayerNorm norm, ParameterStore ps, NDArray x, boolean training,
            PairList<String, Object> params) {
        try (Autocast.HalfReader reader = Autocast.forHalfReader()) {
            return norm.forward(ps, new NDList(x), training, params).head();
        }
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

    /** The layer norm before the attention (GPT-2's {@code ln_1}). */
    public LayerNorm getAttentionNorm() {
        return attentionNorm;
    }

    /** The layer norm before the MLP (GPT-2's {@code ln_2}). */
    public LayerNorm getMlpNorm() {
        return mlpNorm;
    }

    /** The MLP's first projection C → F (GPT-2's {@code mlp.c_fc}). */
    public Linear getMlpFc() {
        return fc;
    }

    /** The MLP's second projection F → C (GPT-2's {@code mlp.c_proj}). */
    public Linear getMlpProj() {
        return proj;
    }

    /** The GELU form of the MLP. */
    public GeluForm getGeluForm() {
        return geluForm;
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
        private int mlpHiddenSize = -1;
        private GeluForm geluForm = GeluForm.ERF;
        private float layerNormEpsilon = 1e-5f;
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

        /** Sets the MLP hidden size F directly (overrides the ratio); default 4·C. */
        public Builder optMlpHiddenSize(int mlpHiddenSize) {
            this.mlpHiddenSize = mlpHiddenSize;
            return this;
        }

        /** Sets the GELU form of the MLP; default {@link GeluForm#ERF} (BERT's); GPT-2 uses {@link GeluForm#TANH}. */
        public Builder optGeluForm(GeluForm geluForm) {
            this.geluForm = geluForm;
            return this;
        }

        /** Sets the epsilon of both layer norms; default 1e-5. */
        public Builder optLayerNormEpsilon(float layerNormEpsilon) {
            this.layerNormEpsilon = layerNormEpsilon;
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
            if (mlpHiddenSize == 0 || mlpHiddenSize < -1) {
                throw new IllegalArgumentException("mlpHiddenSize must be positive (or -1 for mlpRatio·C), got "
                        + mlpHiddenSize);
            }
            if (geluForm == null) {
                throw new IllegalArgumentException("geluForm must be ERF or TANH, got null");
            }
            if (!(layerNormEpsilon > 0 && Float.isFinite(layerNormEpsilon))) {
                throw new IllegalArgumentException("layerNormEpsilon must be positive and finite, got "
                        + layerNormEpsilon);
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
