package ai.fulgur.training.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The stack of L {@link BertLayer}s: input NDList(x (B, T, C), optional attention mask (B, T) of 1/0, right padding
 * only), output (B, T, C). Children {@code layer0} … {@code layer<L−1>}.
 */
public class BertEncoder extends AbstractBlock {
    private static final byte VERSION = 1;

    private final List<BertLayer> layers = new ArrayList<>();

    /** L layers of {@code config}'s sizes. */
    public BertEncoder(BertConfig config) {
        super(VERSION);
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            layers.add(addChildBlock("layer" + l, new BertLayer(config)));
        }
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
            PairList<String, Object> params) {
        NDArray x = inputs.get(0);
        for (BertLayer layer : layers) {
            NDList in = inputs.size() > 1 ? new NDList(x, inputs.get(1)) : new NDList(x);
            x = layer.forward(ps, in, training, params).head();
        }
        return new NDList(x);
    }

    /** {@inheritDoc} (B, T, C), x's shape. */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        for (BertLayer layer : layers) {
            layer.initialize(manager, dataType, inputShapes);
        }
    }

    /** The layers, first to last. */
    public List<BertLayer> getLayers() {
        return Collections.unmodifiableList(layers);
    }
}
