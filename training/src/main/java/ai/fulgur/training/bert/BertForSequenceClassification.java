package ai.fulgur.training.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * BERT with a sequence-classification head on the pooled {@code [CLS]} representation:
 *
 * <pre>
 *   pooled = tanh(h[:, 0] · Wpᵀ + bp)            (B, C), h = BertModel(...) (B, T, C)
 *   logits = dropout(pooled) · Wcᵀ + bc          (B, numLabels)
 * </pre>
 *
 * <p>Inputs as {@link BertModel}: NDList(input_ids, optional token_type_ids, optional attention_mask), each (B, T);
 * output NDList(logits (B, numLabels)). Children {@code bert} (with pooler) and {@code classifier}
 * (Linear C → numLabels).
 */
public class BertForSequenceClassification extends AbstractBlock {
    private static final byte VERSION = 1;

    private final BertConfig config;
    private final BertModel bert;
    private final Linear classifier;

    /** A classifier of {@code config}'s sizes over {@code config.numLabels()} classes. */
    public BertForSequenceClassification(BertConfig config) {
        super(VERSION);
        this.config = config;
        bert = addChildBlock("bert", new BertModel(config, true));
        classifier = addChildBlock("classifier", BertLayer.linear(config, config.numLabels()));
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
            PairList<String, Object> params) {
        NDArray pooled = bert.forward(ps, inputs, training, params).get(1);              // (B, C)
        if (training && config.hiddenDropoutProb() > 0) {
            pooled = Dropout.dropout(pooled, config.hiddenDropoutProb(), true).head();
        }
        return classifier.forward(ps, new NDList(pooled), training, params);             // (B, numLabels)
    }

    /** {@inheritDoc} Logits (B, numLabels) for input_ids (B, T). */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), config.numLabels())};
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        bert.initialize(manager, dataType, inputShapes);
        classifier.initialize(manager, dataType, new Shape(inputShapes[0].get(0), config.hiddenSize()));
    }

    /** The configuration. */
    public BertConfig getConfig() {
        return config;
    }

    /** The encoder with its pooler. */
    public BertModel getBert() {
        return bert;
    }

    /** The classifier layer C → numLabels. */
    public Linear getClassifier() {
        return classifier;
    }
}
