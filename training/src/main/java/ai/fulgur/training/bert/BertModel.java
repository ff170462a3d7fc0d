package ai.fulgur.training.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * The BERT encoder: {@link BertEmbeddings}, then {@link BertEncoder}, and optionally the pooler (a dense layer with
 * tanh on the first token, {@code [CLS]}), which sequence classification uses and masked-LM does not.
 *
 * <p>Inputs, positionally: NDList(input_ids (B, T), token_type_ids (B, T), attention_mask (B, T)); the last two are
 * optional (pass token_type_ids of zeros to give a mask without segments). Ids are INT32 or INT64; the mask holds 1
 * for tokens and 0 for padding, which must be at the end of each row (right padding), as
 * {@code ai.fulgur.datasets.tokenizer.BertEncoding} produces it; each layer's attention reads it on the host (a
 * device-to-host copy per layer on a GPU) and passes per-sequence key lengths to the flash kernel.
 *
 * <p>Outputs: NDList(sequence output (B, T, C)), plus the pooled output (B, C) when the model has a pooler.
 * Children: {@code embeddings}, {@code encoder}, and {@code pooler} (Linear C → C) if present.
 */
public class BertModel extends AbstractBlock {
    private static final byte VERSION = 1;

    private final BertConfig config;
    private final BertEmbeddings embeddings;
    private final BertEncoder encoder;
    private final Linear pooler; // null without pooling

    /** A BERT encoder of {@code config}'s sizes, with a pooler if {@code withPooler}. */
    public BertModel(BertConfig config, boolean withPooler) {
        super(VERSION);
        this.config = config;
        embeddings = addChildBlock("embeddings", new BertEmbeddings(config));
        encoder = addChildBlock("encoder", new BertEncoder(config));
        pooler = withPooler ? addChildBlock("pooler", BertLayer.linear(config, config.hiddenSize())) : null;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
            PairList<String, Object> params) {
        if (inputs.isEmpty() || inputs.size() > 3) {
            throw new IllegalArgumentException("BERT takes NDList(input_ids[, token_type_ids[, attention_mask]]), "
                    + "got " + inputs.size() + " arrays");
        }
        NDList embeddingIn = inputs.size() > 1 ? new NDList(inputs.get(0), inputs.get(1)) : new NDList(inputs.get(0));
        NDArray x = embeddings.forward(ps, embeddingIn, training, params).head();      // (B, T, C)
        NDList encoderIn = inputs.size() > 2 ? new NDList(x, inputs.get(2)) : new NDList(x);
        x = encoder.forward(ps, encoderIn, training, params).head();                  // (B, T, C)
        if (pooler == null) {
            return new NDList(x);
        }
        NDArray first = x.get(new NDIndex(":, 0, :"));                                // (B, C): [CLS]
        NDArray pooled = Activation.tanh(pooler.forward(ps, new NDList(first), training, params).head());
        return new NDList(x, pooled);
    }

    /** {@inheritDoc} (B, T, C), and (B, C) with a pooler. */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape ids = inputShapes[0];
        Shape sequence = new Shape(ids.get(0), ids.get(1), config.hiddenSize());
        return pooler == null ? new Shape[] {sequence}
                : new Shape[] {sequence, new Shape(ids.get(0), config.hiddenSize())};
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape ids = inputShapes[0];
        embeddings.initialize(manager, dataType, ids);
        Shape x = new Shape(ids.get(0), ids.get(1), config.hiddenSize());
        encoder.initialize(manager, dataType, x);
        if (pooler != null) {
            pooler.initialize(manager, dataType, new Shape(ids.get(0), config.hiddenSize()));
        }
    }

    /** The configuration. */
    public BertConfig getConfig() {
        return config;
    }

    /** The embeddings. */
    public BertEmbeddings getEmbeddings() {
        return embeddings;
    }

    /** The encoder layers. */
    public BertEncoder getEncoder() {
        return encoder;
    }

    /** The pooler's dense layer, or null for a model without one. */
    public Linear getPooler() {
        return pooler;
    }
}
