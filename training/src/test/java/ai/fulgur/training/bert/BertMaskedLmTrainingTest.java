package ai.fulgur.training.bert;

import ai.fulgur.training.loss.RecordingTokenLoss;
import ai.fulgur.training.loss.TokenCrossEntropyLoss;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
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
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * BERT masked-LM training on the Fulgur engine (FlashAttention with padding) through DJL's Trainer: the loss falls
 * on a small synthetic language, and one batch can be memorised.
 *
 * <p>The language: each sentence repeats one random word ({@code a a a ...}, 16 words, ids 4..19) between [CLS] and
 * [SEP], right-padded to T; 15% of the tokens (at least one) are replaced by [MASK] and must be predicted. A model
 * that only knows word frequencies stays at ln 16 ≈ 2.77; one that reads the other words of the sentence gets to 0.
 */
class BertMaskedLmTrainingTest {
    private static final int PAD = 0;
    private static final int CLS = 1;
    private static final int SEP = 2;
    private static final int MASK = 3;
    private static final int FIRST_WORD = 4;
    private static final int WORDS = 16;
    private static final int T = 16;
    private static final int B = 16;

    static {
        System.setProperty("ai.djl.offline", "true");
    }

    private static BertConfig config() {
        return new BertConfig(FIRST_WORD + WORDS, 32, 2, 2, 64, T, 2, 0f, 0f, 1e-12f, "gelu", 0.02f, 2);
    }

    @Test
    void lossFallsOnRepeatedWordSentences() {
        float[] curve = train(new Random(1), 100, 5e-3f, false);
        double first = (curve[0] + curve[1] + curve[2]) / 3;
        double last = (curve[curve.length - 1] + curve[curve.length - 2] + curve[curve.length - 3]) / 3;
        System.out.printf("MLM loss on repeated-word sentences: %.3f -> %.3f over %d steps%n", first, last, curve.length);
        assertTrue(first > 2.5, "initial loss " + first + " should be near ln(20) = 3.0");
        // below the unigram entropy ln 16 = 2.77 by a wide margin: the model uses the context
        assertTrue(last < 1.0, "loss did not fall below what token frequencies give: " + first + " -> " + last);
    }

    @Test
    void oneBatchIsMemorised() {
        float[] curve = train(new Random(2), 150, 1e-2f, true);
        double last = curve[curve.length - 1];
        System.out.printf("MLM loss on one repeated batch: %.3f -> %.4f%n", curve[0], last);
        assertTrue(last < 0.05, "one batch was not memorised: loss " + curve[0] + " -> " + last);
    }

    /** {@code steps} Adam steps on fresh batches (or the same one); the loss of each step. */
    private static float[] train(Random rnd, int steps, float learningRate, boolean sameBatch) {
        float[] curve = new float[steps];
        try (Model model = Model.newInstance("bert-mlm", Device.cpu(), "Fulgur")) {
            Engine.getEngine("Fulgur").setRandomSeed(11);
            model.setBlock(new BertForMaskedLM(config()));
            RecordingTokenLoss loss = new RecordingTokenLoss();
            DefaultTrainingConfig cfg = new DefaultTrainingConfig(loss).optDevices(new Device[] {Device.cpu()})
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(learningRate)).build());
            try (Trainer trainer = model.newTrainer(cfg)) {
                trainer.initialize(new Shape(B, T), new Shape(B, T), new Shape(B, T));
                long[][] fixed = sameBatch ? batch(rnd) : null;
                long start = System.nanoTime();
                for (int s = 0; s < steps; s++) {
                    long[][] data = sameBatch ? fixed : batch(rnd);
                    try (NDManager m = trainer.getManager().newSubManager()) {
                        NDList x = new NDList(m.create(data[0], new Shape(B, T)), m.create(data[1], new Shape(B, T)),
                                m.create(data[2], new Shape(B, T)));
                        NDList y = new NDList(m.create(data[3], new Shape(B, T)));
                        try (Batch batch = new Batch(m, x, y, B, Batchifier.STACK, Batchifier.STACK, s, steps)) {
                            EasyTrain.trainBatch(trainer, batch);
                            trainer.step();
                        }
                    }
                    curve[s] = loss.last();
                }
                System.out.printf("%d steps in %.1f s%n", steps, (System.nanoTime() - start) / 1e9);
            }
        }
        return curve;
    }

    /** One batch: input ids, token types (zeros), attention mask, labels (−100 where not masked); each (B, T). */
    private static long[][] batch(Random rnd) {
        long[] ids = new long[B * T];
        long[] types = new long[B * T];
        long[] mask = new long[B * T];
        long[] labels = new long[B * T];
        java.util.Arrays.fill(labels, TokenCrossEntropyLoss.IGNORE);
        for (int b = 0; b < B; b++) {
            int words = 6 + rnd.nextInt(T - 2 - 6 + 1); // 6 .. T−2 words, the rest padding
            long word = FIRST_WORD + rnd.nextInt(WORDS);
            int row = b * T;
            ids[row] = CLS;
            boolean any = false;
            for (int i = 0; i < words; i++) {
                int pos = row + 1 + i;
                ids[pos] = word;
                if (rnd.nextDouble() < 0.15 || (!any && i == words - 1)) {
                    labels[pos] = word;
                    ids[pos] = MASK;
                    any = true;
                }
            }
            ids[row + 1 + words] = SEP;
            for (int t = 0; t < T; t++) {
                mask[row + t] = t < words + 2 ? 1 : 0;
                if (mask[row + t] == 0) {
                    ids[row + t] = PAD;
                }
            }
        }
        return new long[][] {ids, types, mask, labels};
    }
}
