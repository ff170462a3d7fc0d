package ai.fulgur.training.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import ai.djl.training.loss.SoftmaxCrossEntropyLoss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.Batchifier;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Fine-tuning: a classifier starts from the transformers masked-LM fixture (new pooler and classifier initialised by
 * {@link BertCheckpoint.Option#INITIALIZE_NEW_HEAD}) inside a DJL Trainer and learns a 3-class task on padded
 * batches. Class c's sentences draw their words from the c-th third of the vocabulary, so the loss can fall from
 * ln 3 ≈ 1.10 to near 0.
 */
class BertFineTuningTest {
    private static final int B = 12;
    private static final int T = 10;
    private static final int STEPS = 60;

    static {
        System.setProperty("ai.djl.offline", "true");
    }

    @Test
    void classifierFineTunedFromMaskedLmCheckpointLearns() throws Exception {
        Path mlm = BertTestSupport.fixture("bert-mlm-tiny");
        BertConfig config = BertConfig.read(mlm).withNumLabels(3);
        Random rnd = new Random(4);
        try (Model model = Model.newInstance("bert-cls", Device.cpu(), "Fulgur")) {
            Engine.getEngine("Fulgur").setRandomSeed(21); // the new head's draws
            BertForSequenceClassification cls = new BertForSequenceClassification(config);
            model.setBlock(cls);
            float[] last = {Float.NaN};
            SoftmaxCrossEntropyLoss loss = new SoftmaxCrossEntropyLoss() {
                @Override
                public NDArray evaluate(NDList labels, NDList predictions) {
                    NDArray value = super.evaluate(labels, predictions);
                    last[0] = value.getFloat();
                    return value;
                }
            };
            DefaultTrainingConfig cfg = new DefaultTrainingConfig(loss).optDevices(new Device[] {Device.cpu()})
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(5e-3f)).build());
            try (Trainer trainer = model.newTrainer(cfg)) {
                trainer.initialize(new Shape(B, T), new Shape(B, T), new Shape(B, T));
                BertCheckpoint.LoadReport report = BertCheckpoint.load(mlm, cls,
                        BertCheckpoint.Option.INITIALIZE_NEW_HEAD);
                assertEquals(4, report.newlyInitialized().size(), report.toString());
                float[] curve = new float[STEPS];
                for (int s = 0; s < STEPS; s++) {
                    try (NDManager m = trainer.getManager().newSubManager()) {
                        long[][] data = batch(rnd, config.vocabSize());
                        NDList x = new NDList(m.create(data[0], new Shape(B, T)), m.create(data[1], new Shape(B, T)),
                                m.create(data[2], new Shape(B, T)));
                        NDList y = new NDList(m.create(data[3]));
                        try (Batch batch = new Batch(m, x, y, B, Batchifier.STACK, Batchifier.STACK, s, STEPS)) {
                            EasyTrain.trainBatch(trainer, batch);
                            trainer.step();
                        }
                    }
                    curve[s] = last[0];
                }
                double first = (curve[0] + curve[1] + curve[2]) / 3;
                double end = (curve[STEPS - 1] + curve[STEPS - 2] + curve[STEPS - 3]) / 3;
                System.out.printf("fine-tuning from the MLM checkpoint: loss %.3f -> %.3f in %d steps%n", first, end,
                        STEPS);
                assertTrue(first > 0.9, "a new head starts near ln 3 = 1.10, got " + first);
                assertTrue(end < 0.5, "the classifier did not learn: " + first + " -> " + end);
            }
        }
    }

    /** ids, token types (zeros), mask (right padding), labels (B). */
    private static long[][] batch(Random rnd, int vocab) {
        long[] ids = new long[B * T];
        long[] types = new long[B * T];
        long[] mask = new long[B * T];
        long[] labels = new long[B];
        int band = (vocab - 5) / 3;
        for (int b = 0; b < B; b++) {
            int c = rnd.nextInt(3);
            labels[b] = c;
            int len = 4 + rnd.nextInt(T - 4 + 1);
            ids[b * T] = 1; // a [CLS]-like first token
            for (int t = 0; t < len; t++) {
                mask[b * T + t] = 1;
                if (t > 0) {
                    ids[b * T + t] = 5 + c * band + rnd.nextInt(band);
                }
            }
        }
        return new long[][] {ids, types, mask, labels};
    }
}
