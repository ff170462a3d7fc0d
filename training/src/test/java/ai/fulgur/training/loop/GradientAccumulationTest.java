package ai.fulgur.training.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.tracker.Tracker;
import ai.fulgur.training.examples.AdditionDataset;
import ai.fulgur.training.loss.TokenCrossEntropyLoss;
import ai.fulgur.training.nn.CausalTransformer;
import ai.fulgur.training.optim.ResumableAdamW;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A step over 4 micro-batches of 2 follows a step over the batch of 8: same losses and weights (up to float rounding,
 * the sums run in another order), with activation recomputation on as well.
 */
class GradientAccumulationTest {
    private static final int DIGITS = 2;
    private static final int LENGTH = AdditionDataset.sequenceLength(DIGITS) - 1;
    private static final int STEPS = 4;

    private record Run(List<LossCurve.Point> losses, float[] weights) {
    }

    private static Run train(int microBatches, boolean recompute) {
        Engine.getEngine("Fulgur").setRandomSeed(5);
        try (Model model = Model.newInstance("accumulate", Device.cpu(), "Fulgur")) {
            CausalTransformer net = CausalTransformer.builder().setVocabSize(AdditionDataset.VOCAB)
                    .setMaxLength(LENGTH).setEmbeddingSize(32).setNumLayers(2).setNumHeads(4).build();
            model.setBlock(net);
            net.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(8, LENGTH));
            net.setRecompute(recompute);
            ResumableAdamW.Builder adam = ResumableAdamW.builder().optLearningRateTracker(Tracker.cosine()
                    .setBaseValue(3e-3f).optFinalValue(1e-4f).setMaxUpdates(STEPS).build());
            TrainingLoop loop = new TrainingLoop(model, new TokenCrossEntropyLoss(), adam, new String[] {"bias"},
                    AdditionDataset.builder().optDigits(DIGITS).build(), null,
                    new TrainingLoop.Options(STEPS, 8, 0, 0, 0, 0.5), null, null, null, Device.cpu())
                    .accumulate(microBatches);
            List<LossCurve.Point> losses = loop.run().curve().train();
            return new Run(losses, net.getParameters().get(0).getValue().getArray().toFloatArray());
        }
    }

    @Test
    void microBatchesFollowTheWholeBatch() {
        Run whole = train(1, false);
        for (Run run : new Run[] {train(4, false), train(4, true)}) {
            for (int s = 0; s < STEPS; s++) {
                double expected = whole.losses().get(s).loss();
                assertEquals(expected, run.losses().get(s).loss(), 1e-5 * expected, "loss of step " + (s + 1));
            }
            for (int i = 0; i < whole.weights().length; i++) {
                assertEquals(whole.weights()[i], run.weights()[i], 1e-4, "weight " + i);
            }
        }
        assertTrue(whole.losses().get(0).loss() != whole.losses().get(STEPS - 1).loss());
    }

    @Test
    void aBatchThatDoesNotSplitIsNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> train(3, false));
        assertTrue(e.getMessage().contains("batch of 8 samples does not split into 3 equal micro-batches"),
                e.getMessage());
    }
}
