package ai.fulgur.training.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import ai.fulgur.training.nn.FlashMultiHeadAttention;

/**
 * One BERT encoder layer, post-LN (the original Transformer's order, unlike GPT-2's pre-LN
 * {@link ai.fulgur.training.nn.TransformerBlock}):
 *
 * <pre>
 *   h = LayerNorm1(x + dropout(attention(x, mask)))
 *   y = LayerNorm2(h + dropout(W2 · gelu(W1 · h + b1) + b2))
 * </pre>
 *
 * <p>Shapes: input NDList(x (B, T, C), optional attention mask (B, T) of 1 for tokens and 0 for right padding);
 * output y (B, T, C). Children: {@code attention}, a non-causal {@link FlashMultiHeadAttention} (fused q|k|v
 * projection (3C, C), output projection (C, C)) to which the mask goes as its key mask, so the flash kernel skips
 * padded keys; {@code attention_norm} (LayerNorm); {@code intermediate} (Linear C → I); {@code output} (Linear I → C);
 * {@code output_norm} (LayerNorm). Padded query positions are computed like any other (they attend to the valid
 * keys), as in Hugging Face's BERT. Weights start N(0, initializer_range²), biases 0, LayerNorms 1 and 0, as in
 * transformers.
 */
public class BertLayer extends AbstractBlock {
    private static final byte VERSION = 1;

    private final BertConfig config;
    private final FlashMultiHeadAttention attention;
    private final LayerNorm attentionNorm;
    private final Linear intermediate;
    private final Linear output;
    private final LayerNorm outputNorm;

    /** A layer of {@code config}'s sizes. */
    public BertLayer(BertConfig config) {
        super(VERSION);
        this.config = config;
        attention = addChildBlock("attention", FlashMultiHeadAttention.builder()
                .setNumHeads(config.numAttentionHeads()).optAttentionDropout(config.attentionProbsDropoutProb())
                .build());
        attentionNorm = addChildBlock("attention_norm", layerNorm(config));
        intermediate = addChildBlock("intermediate", linear(config, config.intermediateSize()));
        output = addChildBlock("output", linear(config, config.hiddenSize()));
        outputNorm = addChildBlock("output_norm", layerNorm(config));
    }

    /** A LayerNorm over axis 2 (C of (B, T, C)) with the configuration's epsilon. */
    static LayerNorm layerNorm(BertConfig config) {
        return LayerNorm.builder().axis(2).optEpsilon(config.layerNormEps()).build();
    }

    /** A Linear with {@code units} outputs, weights N(0, initializer_range²), biases 0 (Hugging Face's init). */
    static Linear linear(BertConfig config, long units) {
        Linear l = Linear.builder().setUnits(units).build();
        l.setInitializer(new NormalInitializer(config.initializerRange()), Parameter.Type.WEIGHT);
        return l;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
            PairList<String, Object> params) {
        NDArray x = inputs.get(0);
        checkInput(x.getShape());
        NDArray a = attention.forward(ps, inputs, training, params).head();
        NDArray h = attentionNorm.forward(ps, new NDList(x.add(dropout(a, training))), training, params).head();
        NDArray m = intermediate.forward(ps, new NDList(h), training, params).head();
        m = output.forward(ps, new NDList(Activation.gelu(m)), training, params).head();
        return outputNorm.forward(ps, new NDList(h.add(dropout(m, training))), training, params);
    }

    private NDArray dropout(NDArray x, boolean training) {
        float p = config.hiddenDropoutProb();
        return training && p > 0 ? Dropout.dropout(x, p, true).head() : x;
    }

    /** {@inheritDoc} The output has the shape of x: (B, T, C). */
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
        attention.initialize(manager, dataType, inputShapes);
        // the attention creates its projections inside initialize, out of reach of setInitializer: draw their
        // weights again, N(0, initializer_range²) as transformers does (DJL's default would be Xavier, std ≈ 0.25)
        NormalInitializer normal = new NormalInitializer(config.initializerRange());
        try (NDManager scratch = manager.newSubManager()) {
            for (Parameter p : attention.getParameters().values()) {
                if (p.getType() == Parameter.Type.WEIGHT) {
                    normal.initialize(scratch, p.getArray().getShape(), dataType).copyTo(p.getArray());
                }
            }
        }
        attentionNorm.initialize(manager, dataType, x);
        intermediate.initialize(manager, dataType, x);
        output.initialize(manager, dataType, intermediate.getOutputShapes(new Shape[] {x}));
        outputNorm.initialize(manager, dataType, x);
    }

    private void checkInput(Shape x) {
        if (x.dimension() != 3 || x.get(2) != config.hiddenSize()) {
            throw new IllegalArgumentException("BertLayer input must be (B, T, " + config.hiddenSize() + "), got "
                    + x);
        }
    }

    /** The self-attention (fused q|k|v and output projections). */
    public FlashMultiHeadAttention getAttention() {
        return attention;
    }

    /** The LayerNorm after the attention residual. */
    public LayerNorm getAttentionNorm() {
        return attentionNorm;
    }

    /** The feed-forward expansion C → I. */
    public Linear getIntermediate() {
        return intermediate;
    }

    /** The feed-forward projection I → C. */
    public Linear getOutput() {
        return output;
    }

    /** The LayerNorm after the feed-forward residual. */
    public LayerNorm getOutputNorm() {
        return outputNorm;
    }
}
