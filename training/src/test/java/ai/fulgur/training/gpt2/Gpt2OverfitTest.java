package ai.fulgur.training.gpt2;

import ai.fulgur.training.loss.RecordingTokenLoss;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.Batchifier;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * A tiny GPT-2 trained on Fulgur with DJL's Trainer memorises one batch: the loss starts near ln V (uniform
 * predictions, GPT-2's small initial weights) and falls close to zero, which exercises the tied head (one parameter,
 * two gradients), tanh GELU and FlashAttention backward together.
 */
class Gpt2OverfitTest {
    private static final int BATCH = 2;
    private static final int T = 32;
    private static final int VOCAB = 96;
    private static final int MAX_STEPS = 300;

    @Test
    void tinyGpt2MemorisesOneBatch() {
        Gpt2Config config = Gpt2Config.builder().nLayer(2).nHead(4).nEmbd(64).nPositions(T).vocabSize(VOCAB).build()
                .withDropout(0);
        String text = "First Citizen: Before we proceed any further, hear me speak. All: Speak, speak. First Citizen:"
                + " You are all resolved rather to die than to famish? All: Resolved. resolved. First Citizen: First,"
                + " you know Caius Marcius is chief enemy to the people.";
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        long[] inputs = new long[BATCH * T];
        long[] targets = new long[BATCH * T];
        for (int b = 0; b < BATCH; b++) {
            for (int t = 0; t < T; t++) {
                inputs[b * T + t] = (bytes[b * 37 + t] - 32) % VOCAB;     // printable ASCII → [0, 95)
                targets[b * T + t] = (bytes[b * 37 + t + 1] - 32) % VOCAB;
            }
        }
        RecordingTokenLoss loss = new RecordingTokenLoss();
        try (Gpt2Model gpt2 = Gpt2Model.newModel(config, Device.cpu(), "Fulgur", 17);
                Trainer trainer = gpt2.getModel().newTrainer(new DefaultTrainingConfig(loss)
                        .optDevices(new Device[] {Device.cpu()})
                        .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(1e-2f)).build()))) {
            trainer.initialize(new Shape(BATCH, T)); // keeps GPT-2's initial weights (already initialized)
            long start = System.nanoTime();
            float first = Float.NaN;
            int steps = 0;
            while (steps < MAX_STEPS && !(loss.last() < 0.05f)) {
                try (NDManager m = trainer.getManager().newSubManager()) {
                    NDArray x = m.create(inputs, new Shape(BATCH, T));
                    NDArray y = m.create(targets, new Shape(BATCH, T));
                    try (Batch batch = new Batch(m, new NDList(x), new NDList(y), 1, Batchifier.STACK,
                            Batchifier.STACK, 0, 1)) {
                        EasyTrain.trainBatch(trainer, batch);
                        trainer.step();
                    }
                }
                if (steps == 0) {
                    first = loss.last();
                }
                steps++;
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf("tiny GPT-2 overfit: loss %.4f -> %.4f in %d steps, %.1f s%n", first, loss.last(), steps,
                    seconds);
            assertTrue(Math.abs(first - Math.log(VOCAB)) < 0.3, "initial loss " + first + " should be near ln "
                    + VOCAB + " = " + Math.log(VOCAB));
            assertTrue(loss.last() < 0.05f, "loss after " + steps + " steps is " + loss.last() + ", expected < 0.05");
        }
    }
}
