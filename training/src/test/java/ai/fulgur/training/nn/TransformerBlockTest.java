package ai.fulgur.training.nn;

import static ai.fulgur.training.nn.NnTestSupport.assertClose;
import static ai.fulgur.training.nn.NnTestSupport.assertSameGradients;
import static ai.fulgur.training.nn.NnTestSupport.normal;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.ops.attention.BlockSparseLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The pre-LN layer on Fulgur against PyTorch with identical parameters, with a block-sparse attention child and a key
 * padding mask passed through: output, input gradient and every parameter gradient.
 */
class TransformerBlockTest {
    private NDManager fu;
    private NDManager pt;

    @BeforeEach
    void open() {
        fu = NnTestSupport.fulgurManager();
        pt = NnTestSupport.torchManager();
    }

    @AfterEach
    void close() {
        fu.close();
        pt.close();
    }

    private static TransformerBlock layer() {
        boolean[] local = new boolean[9];
        for (int qb = 0; qb < 3; qb++) {
            local[qb * 3] = true;
            local[qb * 3 + qb] = true;
        }
        return TransformerBlock.builder().setEmbeddingSize(16).optAttention(BlockSparseMultiHeadAttention.builder()
                .setNumHeads(4).optNumKvHeads(2).optCausal(true).setLayout(new BlockSparseLayout(4, 1, 3, 3, local))
                .build()).build();
    }

    private record Run(TransformerBlock block, NDArray x, NDArray y) {}

    private static Run run(NDManager m, TransformerBlock copyFrom) {
        TransformerBlock block = layer();
        NDArray x = normal(m, 1, 1f, 2, 10, 16);
        x.setRequiresGradient(true);
        NDArray mask = m.create(new float[] {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
                new Shape(2, 10));
        block.initialize(m, DataType.FLOAT32, x.getShape(), mask.getShape());
        if (copyFrom == null) {
            NnTestSupport.randomizeParameters(block, 21, 0.3f);
        } else {
            NnTestSupport.copyParameters(copyFrom, block);
        }
        try (GradientCollector gc = m.getEngine().newGradientCollector()) {
            NDArray y = block.forward(new ParameterStore(m, false), new NDList(x, mask), true).head();
            gc.backward(y.mul(normal(m, 5, 1f, 2, 10, 16)).sum());
            return new Run(block, x, y);
        }
    }

    @Test
    void fulgurMatchesPyTorch() {
        Run theirs = run(pt, null);
        Run ours = run(fu, theirs.block());
        assertInstanceOf(FulgurNDArray.class, ours.y());
        assertClose("layer output", theirs.y(), ours.y(), 2e-5, 2e-4);
        assertClose("layer input gradient", theirs.x().getGradient(), ours.x().getGradient(), 2e-5, 2e-4);
        assertSameGradients("layer", theirs.block(), ours.block(), 2e-5, 2e-4);
    }

    @Test
    void shapesAndValidation() {
        assertArrayEquals(new Shape[] {new Shape(2, 10, 16)},
                layer().getOutputShapes(new Shape[] {new Shape(2, 10, 16), new Shape(2, 10)}));
        assertThrows(IllegalArgumentException.class, () -> layer().getOutputShapes(new Shape[] {new Shape(2, 10, 8)}));
        assertThrows(IllegalArgumentException.class,
                () -> TransformerBlock.builder().setEmbeddingSize(30).setNumHeads(4).build());
    }
}
