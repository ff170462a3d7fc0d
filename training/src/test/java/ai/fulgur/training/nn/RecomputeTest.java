package ai.fulgur.training.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.fulgur.autograd.Autocast;
import ai.fulgur.ops.DType;
import ai.fulgur.training.loss.TokenCrossEntropyLoss;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Activation recomputation changes memory, not results: with dropout in the residuals and the attention, the loss and
 * every parameter gradient of a causal transformer are bit-identical with and without it, also with the embeddings
 * and first layer frozen (the recomputed layer's input then needs no gradient, its weights still do).
 */
class RecomputeTest {
    private static final int VOCAB = 37;
    private static final int LENGTH = 12;
    private static final int BATCH = 3;

    /** The loss and each trainable parameter's gradient after one forward and backward. */
    private static List<float[]> lossAndGradients(boolean recompute, int frozenLayers, DType autocast) {
        Engine.getEngine("Fulgur").setRandomSeed(11);
        try (Model model = Model.newInstance("recompute", Device.cpu(), "Fulgur")) {
            CausalTransformer net = CausalTransformer.builder().setVocabSize(VOCAB).setMaxLength(LENGTH)
                    .setEmbeddingSize(16).setNumLayers(3).setNumHeads(2).optDropout(0.2f).optAttentionDropout(0.2f)
                    .build();
            model.setBlock(net);
            NDManager m = model.getNDManager();
            net.initialize(m, DataType.FLOAT32, new Shape(BATCH, LENGTH));
            if (frozenLayers > 0) {
                net.freezeEmbeddingsAndLayers(frozenLayers);
            }
            net.setRecompute(recompute);
            Random random = new Random(3);
            int[] tokens = new int[BATCH * LENGTH];
            int[] labels = new int[BATCH * LENGTH];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = random.nextInt(VOCAB);
                labels[i] = random.nextInt(VOCAB);
            }
            List<float[]> out = new ArrayList<>();
            try (GradientCollector gc = Engine.getEngine("Fulgur").newGradientCollector()) {
                NDArray loss;
                try (Autocast.Scope s = autocast == null ? Autocast.disable() : Autocast.enable(autocast)) {
                    NDArray logits = net.forward(new ParameterStore(m, false),
                            new NDList(m.create(tokens, new Shape(BATCH, LENGTH))), true).head();
                    loss = new TokenCrossEntropyLoss().evaluate(
                            new NDList(m.create(labels, new Shape(BATCH, LENGTH))), new NDList(logits));
                }
                gc.backward(loss);
                out.add(new float[] {loss.getFloat()});
            }
            for (Pair<String, Parameter> p : net.getParameters()) {
                if (p.getValue().requiresGradient()) {
                    out.add(p.getValue().getArray().getGradient().toFloatArray());
                }
            }
            return out;
        }
    }

    @Test
    void gradientsAreIdenticalWithAndWithoutRecomputation() {
        for (int frozen : new int[] {0, 1}) {
            List<float[]> plain = lossAndGradients(false, frozen, null);
            List<float[]> recomputed = lossAndGradients(true, frozen, null);
            assertEquals(plain.size(), recomputed.size());
            assertTrue(plain.size() > 10, "parameters with gradients: " + plain.size());
            for (int i = 0; i < plain.size(); i++) {
                assertArrayEquals(plain.get(i), recomputed.get(i), "entry " + i + " (0 = loss), frozen " + frozen);
            }
            float sum = 0;
            for (float v : plain.get(plain.size() - 1)) {
                sum += Math.abs(v);
            }
            assertTrue(sum > 0, "the last gradient is not all zeros");
        }
    }

    /** Under bf16 autocast the replay computes in bf16 as the forward did: the same bits again. */
    @Test
    void recomputationReplaysTheAutocastType() {
        List<float[]> plain = lossAndGradients(false, 0, DType.BF16);
        List<float[]> recomputed = lossAndGradients(true, 0, DType.BF16);
        List<float[]> f32 = lossAndGradients(false, 0, null);
        assertEquals(plain.size(), recomputed.size());
        for (int i = 0; i < plain.size(); i++) {
            assertArrayEquals(plain.get(i), recomputed.get(i), "entry " + i + " (0 = loss)");
        }
        // and bf16 really ran: the loss differs from the F32 one
        assertTrue(plain.get(0)[0] != f32.get(0)[0], "bf16 loss " + plain.get(0)[0] + " vs f32 " + f32.get(0)[0]);
    }
}
