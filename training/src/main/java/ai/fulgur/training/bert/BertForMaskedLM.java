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
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * BERT with the masked-language-model head: a transform (dense C → C, GELU, LayerNorm) and a decoder that shares
 * the word embedding (weight tying) plus its own output bias:
 *
 * <pre>
 *   h = BertModel(input_ids, token_type_ids, attention_mask)            (B, T, C), no pooler
 *   z = LayerNorm(gelu(h · Wtᵀ + bt))                                   (B, T, C)
 *   logits = z · word_embeddingsᵀ + bias                                 (B, T, V)
 * </pre>
 *
 * <p>Inputs as {@link BertModel}: NDList(input_ids, optional token_type_ids, optional attention_mask), each (B, T);
 * output NDList(logits (B, T, V)), at every position (padding included). Children {@code bert},
 * {@code transform_dense}, {@code transform_norm}; parameter {@code bias} (V), zero initially. The decoder weight is
 * the {@link BertEmbeddings#getWordEmbeddings()} parameter itself, so it is trained once and saved once.
 */
public class BertForMaskedLM extends AbstractBlock {
    private static final byte VERSION = 1;

    private final BertConfig config;
    private final BertModel bert;
    private final Linear transformDense;
    private final LayerNorm transformNorm;
    private final Parameter bias;

    /** A masked-LM model of {@code config}'s sizes. */
    public BertForMaskedLM(BertConfig config) {
        super(VERSION);
        this.config = config;
        bert = addChildBlock("bert", new BertModel(config, false));
        transformDense = addChildBlock("transform_dense", BertLayer.linear(config, config.hiddenSize()));
        transformNorm = addChildBlock("transform_norm", BertLayer.layerNorm(config));
        bias = addParameter(Parameter.builder().setName("bias").setType(Parameter.Type.BIAS)
                .optShape(new Shape(config.vocabSize())).build());
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
            PairList<String, Object> params) {
        NDArray h = bert.forward(ps, inputs, training, params).head();                  // (B, T, C)
        NDArray z = transformDense.forward(ps, new NDList(h), training, params).head();
        z = transformNorm.forward(ps, new NDList(Activation.gelu(z)), training, params).head();
        NDArray word = ps.getValue(bert.getEmbeddings().getWordEmbeddings(), z.getDevice(), training); // (V, C)
        NDArray b = ps.getValue(bias, z.getDevice(), training);                          // (V)
        return Linear.linear(z, word, b);                                                 // (B, T, V)
    }

    /** {@inheritDoc} Logits (B, T, V) for input_ids (B, T). */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape ids = inputShapes[0];
        return new Shape[] {new Shape(ids.get(0), ids.get(1), config.vocabSize())};
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        bert.initialize(manager, dataType, inputShapes);
        Shape x = new Shape(inputShapes[0].get(0), inputShapes[0].get(1), config.hiddenSize());
        transformDense.initialize(manager, dataType, x);
        transformNorm.initialize(manager, dataType, x);
    }

    /** The configuration. */
    public BertConfig getConfig() {
        return config;
    }

    /** The encoder (without pooler). */
    public BertModel getBert() {
        return bert;
    }

    /** The transform's dense layer. */
    public Linear getTransformDense() {
        return transformDense;
    }

    /** The transform's LayerNorm. */
    public LayerNorm getTransformNorm() {
        return transformNorm;
    }

    /** The decoder's output bias (V), Hugging Face's {@code cls.predictions.bias}. */
    public Parameter getOutputBias() {
        return bias;
    }
}
