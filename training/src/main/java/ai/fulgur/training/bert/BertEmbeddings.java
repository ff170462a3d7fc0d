package ai.fulgur.training.bert;

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
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;

/**
 * BERT's input embedding: the sum of word, position and token-type (segment) embeddings, normalised and dropped out:
 *
 * <pre>
 *   e = LayerNorm(word[input_ids] + position[0:T] + tokenType[token_type_ids])
 *   y = dropout(e)   (training only)
 * </pre>
 *
 * <p>Shapes: input NDList(input_ids (B, T), optional token_type_ids (B, T)), INT32 or INT64, T ≤
 * max_position_embeddings; without token types every position is segment 0. Parameters {@code word_embeddings}
 * (V, C), {@code position_embeddings} (P, C), {@code token_type_embeddings} (S, C), all N(0, initializer_range²)
 * initially, and the child {@code LayerNorm} (gamma, beta (C)); output (B, T, C).
 */
public class BertEmbeddings extends AbstractBlock {
    private static final byte VERSION = 1;

    private final BertConfig config;
    private final Parameter wordEmbeddings;
    private final Parameter positionEmbeddings;
    private final Parameter tokenTypeEmbeddings;
    private final LayerNorm norm;

    /** The embeddings of {@code config}. */
    public BertEmbeddings(BertConfig config) {
        super(VERSION);
        this.config = config;
        NormalInitializer init = new NormalInitializer(config.initializerRange());
        wordEmbeddings = addParameter(Parameter.builder().setName("word_embeddings").setType(Parameter.Type.WEIGHT)
                .optInitializer(init).optShape(new Shape(config.vocabSize(), config.hiddenSize())).build());
        positionEmbeddings = addParameter(Parameter.builder().setName("position_embeddings")
                .setType(Parameter.Type.WEIGHT).optInitializer(init)
                .optShape(new Shape(config.maxPositionEmbeddings(), config.hiddenSize())).build());
        tokenTypeEmbeddings = addParameter(Parameter.builder().setName("token_type_embeddings")
                .setType(Parameter.Type.WEIGHT).optInitializer(init)
                .optShape(new Shape(config.typeVocabSize(), config.hiddenSize())).build());
        norm = addChildBlock("LayerNorm", BertLayer.layerNorm(config));
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
            PairList<String, Object> params) {
        if (inputs.isEmpty() || inputs.size() > 2) {
            throw new IllegalArgumentException("BertEmbeddings takes NDList(input_ids) or NDList(input_ids, "
                    + "token_type_ids), got " + inputs.size() + " arrays");
        }
        NDArray ids = inputs.get(0);
        checkIds("input_ids", ids.getShape(), ids.getDataType());
        long t = ids.getShape().get(1);
        NDArray word = ps.getValue(wordEmbeddings, ids.getDevice(), training);
        NDArray position = ps.getValue(positionEmbeddings, ids.getDevice(), training);
        NDArray tokenType = ps.getValue(tokenTypeEmbeddings, ids.getDevice(), training);
        NDArray x = Embedding.embedding(ids, word, SparseFormat.DENSE).head()      // (B, T, C)
                .add(position.get(new NDIndex("0:{}", t)));                         // + (T, C)
        if (inputs.size() > 1) {
            NDArray types = inputs.get(1);
            if (!types.getShape().equals(ids.getShape())) {
                throw new IllegalArgumentException("token_type_ids must have the shape of input_ids "
                        + ids.getShape() + ", got " + types.getShape());
            }
            checkIds("token_type_ids", types.getShape(), types.getDataType());
            x = x.add(Embedding.embedding(types, tokenType, SparseFormat.DENSE).head()); // + (B, T, C)
        } else {
            x = x.add(tokenType.get(new NDIndex("0:1")));                               // + (1, C): segment 0
        }
        x = norm.forward(ps, new NDList(x), training, params).head();
        if (training && config.hiddenDropoutProb() > 0) {
            x = Dropout.dropout(x, config.hiddenDropoutProb(), true).head();
        }
        return new NDList(x);
    }

    private void checkIds(String what, Shape shape, DataType type) {
        if (shape.dimension() != 2 || shape.get(1) > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException(what + " must be (B, T) with T <= max_position_embeddings "
                    + config.maxPositionEmbeddings() + ", got " + shape);
        }
        if (type != DataType.INT32 && type != DataType.INT64) {
            throw new IllegalArgumentException(what + " must be INT32 or INT64, got " + type);
        }
    }

    /** {@inheritDoc} (B, T, C) for input_ids (B, T). */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape ids = inputShapes[0];
        return new Shape[] {new Shape(ids.get(0), ids.get(1), config.hiddenSize())};
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        norm.initialize(manager, dataType, getOutputShapes(inputShapes)[0]);
    }

    /** The word embedding (V, C), which the masked-LM decoder shares. */
    public Parameter getWordEmbeddings() {
        return wordEmbeddings;
    }

    /** The position embedding (P, C). */
    public Parameter getPositionEmbeddings() {
        return positionEmbeddings;
    }

    /** The token-type embedding (S, C). */
    public Parameter getTokenTypeEmbeddings() {
        return tokenTypeEmbeddings;
    }

    /** The LayerNorm after the sum. */
    public LayerNorm getLayerNorm() {
        return norm;
    }
}
