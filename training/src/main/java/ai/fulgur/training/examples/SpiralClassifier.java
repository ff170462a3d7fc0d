package ai.fulgur.training.examples;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.metric.Metrics;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.TrainingResult;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.evaluator.Accuracy;
import ai.djl.training.initializer.XavierInitializer;
import ai.djl.training.listener.TrainingListener;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.TranslateException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;

/**
 * A plain DJL program, with nothing Fulgur-specific but the engine name: an MLP (Linear, GELU, LayerNorm, Dropout)
 * learns to tell apart three interleaved spirals, trained with {@code EasyTrain.fit}, Adam, softmax cross-entropy
 * and DJL's progress-bar listener. It runs unchanged on the PyTorch engine, which is how its tests check it.
 */
public final class SpiralClassifier {

    /**
     * What to train.
     *
     * @param engine        DJL engine name ("Fulgur", "PyTorch")
     * @param device        "cpu", "gpu" or "gpu:N", or null for the engine's default (a GPU when there is one)
     * @param pointsPerClass samples per spiral arm
     * @param epochs        passes over the training set
     * @param batchSize     samples per step
     * @param hidden        width of the hidden layers
     * @param seed          seeds the data and the engine
     * @param saveTo        directory to save the trained model to, or null
     * @param progress      print DJL's progress bar and per-epoch metrics
     */
    public record Config(String engine, String device, int pointsPerClass, int epochs, int batchSize, int hidden,
            int seed, Path saveTo, boolean progress) {

        /** The built-in default: Fulgur, 3 × 500 points, 12 epochs. */
        public static Config defaults() {
            return new Config("Fulgur", null, 500, 12, 50, 64, 7, null, true);
        }

        public Config withEngine(String name) {
            return new Config(name, device, pointsPerClass, epochs, batchSize, hidden, seed, saveTo, progress);
        }
    }

    /** Final metrics of a run. */
    public record Result(float trainLoss, float validationLoss, float trainAccuracy, float validationAccuracy,
            long millis) {}

    private SpiralClassifier() {}

    /** Builds the block: 2 → hidden → hidden → 3 classes. */
    public static SequentialBlock block(int hidden) {
        return new SequentialBlock()
                .add(Linear.builder().setUnits(hidden).build())
                .add(Activation::gelu)
                .add(Linear.builder().setUnits(hidden).build())
                .add(LayerNorm.builder().build())
                .add(Activation::gelu)
                .add(Dropout.builder().optRate(0.1f).build())
                .add(Linear.builder().setUnits(3).build());
    }

    /** Trains on 80% of the points and reports metrics on the other 20%. */
    public static Result train(Config c) throws IOException, TranslateException {
        Engine engine = Engine.getEngine(c.engine());
        engine.setRandomSeed(c.seed());
        long start = System.currentTimeMillis();
        ai.djl.Device device = ai.fulgur.autograd.djl.DeviceNames.parse(c.device(), engine);
        try (Model model = Model.newInstance("spiral-mlp", device, c.engine())) {
            model.setBlock(block(c.hidden()));
            NDManager manager = model.getNDManager();
            ArrayDataset[] split = spirals(manager, c.pointsPerClass(), c.batchSize(), c.seed());
            DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                    .optDevices(new ai.djl.Device[] {device})
                    .addEvaluator(new Accuracy())
                    .optInitializer(new XavierInitializer(), "weight")
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(0.01f)).build())
                    .addTrainingListeners(c.progress() ? TrainingListener.Defaults.logging()
                            : TrainingListener.Defaults.basic());
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.setMetrics(new Metrics());
                trainer.initialize(new Shape(c.batchSize(), 2));
                EasyTrain.fit(trainer, c.epochs(), split[0], split[1]);
                TrainingResult r = trainer.getTrainingResult();
                if (c.saveTo() != null) {
                    model.setProperty("Epoch", String.valueOf(c.epochs()));
                    model.save(c.saveTo(), "spiral-mlp");
                }
                return new Result(r.getTrainLoss(), r.getValidateLoss(), r.getTrainEvaluation("Accuracy"),
                        r.getValidateEvaluation("Accuracy"), System.currentTimeMillis() - start);
            }
        }
    }

    /**
     * Three spiral arms in the plane with Gaussian noise, shuffled, split 80/20 into training and validation sets.
     * Features are (x, y) as FLOAT32 (N, 2); labels the arm index as FLOAT32 (N), as DJL datasets commonly hold them.
     */
    public static ArrayDataset[] spirals(NDManager manager, int perClass, int batchSize, int seed) {
        Random rnd = new Random(seed);
        int n = 3 * perClass;
        float[] xy = new float[2 * n];
        float[] label = new float[n];
        for (int k = 0; k < 3; k++) {
            for (int i = 0; i < perClass; i++) {
                double r = (double) i / perClass;
                double theta = 4 * r + k * 2 * Math.PI / 3 + rnd.nextGaussian() * 0.2;
                int j = k * perClass + i;
                xy[2 * j] = (float) (r * Math.sin(theta));
                xy[2 * j + 1] = (float) (r * Math.cos(theta));
                label[j] = k;
            }
        }
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int trainCount = n * 4 / 5;
        return new ArrayDataset[] {subset(manager, xy, label, order, 0, trainCount, batchSize, true),
                subset(manager, xy, label, order, trainCount, n, batchSize, false)};
    }

    private static ArrayDataset subset(NDManager manager, float[] xy, float[] label, int[] order, int from, int to,
            int batchSize, boolean shuffle) {
        int m = to - from;
        float[] f = new float[2 * m];
        float[] l = new float[m];
        for (int i = 0; i < m; i++) {
            int j = order[from + i];
            f[2 * i] = xy[2 * j];
            f[2 * i + 1] = xy[2 * j + 1];
            l[i] = label[j];
        }
        NDArray features = manager.create(f, new Shape(m, 2));
        NDArray labels = manager.create(l, new Shape(m));
        return new ArrayDataset.Builder().setData(features).optLabels(labels)
                .setSampling(batchSize, shuffle).build();
    }
}
