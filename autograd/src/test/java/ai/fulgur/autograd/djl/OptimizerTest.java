package ai.fulgur.autograd.djl;

import static ai.fulgur.autograd.djl.DjlTestSupport.assertClose;
import static ai.fulgur.autograd.djl.DjlTestSupport.assertSameParameters;
import static ai.fulgur.autograd.djl.DjlTestSupport.normal;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.TrainingResult;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.training.evaluator.Accuracy;
import ai.djl.training.listener.EvaluatorTrainingListener;
import ai.djl.training.loss.SoftmaxCrossEntropyLoss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.Batchifier;
import java.util.Arrays;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * DJL's optimizers through the real training loop ({@code EasyTrain.trainBatch}, {@code trainer.step()}) on both
 * engines from the same initial parameters and data: the parameters must agree after every step.
 */
class OptimizerTest {
    private static final int BATCH = 8;
    private static final int FEATURES = 10;
    private static final int CLASSES = 4;
    private static final int STEPS = 5;

    private static Block newBlock() {
        return new SequentialBlock()
                .add(Linear.builder().setUnits(16).build())
                .add(Activation.geluBlock())
                .add(LayerNorm.builder().build())
                .add(Linear.builder().setUnits(CLASSES).build());
    }

    private static Trainer newTrainer(Model model, Optimizer optimizer) {
        model.setBlock(newBlock());
        Trainer trainer = model.newTrainer(new DefaultTrainingConfig(new SoftmaxCrossEntropyLoss())
                .optOptimizer(optimizer)
                .optDevices(new Device[] {Device.cpu()}));
        trainer.initialize(new Shape(BATCH, FEATURES));
        return trainer;
    }

    /** One batch of step {@code step}'s data in a sub-manager of the trainer's, as a data loader makes it. */
    private static Batch batch(Trainer trainer, int step) {
        NDManager m = trainer.getManager().newSubManager();
        NDArray x = normal(m, 100 + step, BATCH, FEATURES);
        float[] labels = new float[BATCH];
        for (int i = 0; i < BATCH; i++) {
            labels[i] = (i * 7 + step) % CLASSES;
        }
        return new Batch(m, new NDList(x), new NDList(m.create(labels)), BATCH, Batchifier.STACK, Batchifier.STACK,
                step, STEPS);
    }

    /**
     * Trains the same model on both engines for {@link #STEPS} steps with {@code batchesPerStep} trainBatch calls
     * before each step (gradients accumulate in between), comparing parameters after every step.
     */
    private static void trainBoth(String name, Supplier<Optimizer> optimizer, int batchesPerStep) {
        try (Model ptModel = Model.newInstance("reference", Device.cpu(), "PyTorch");
                Model fuModel = Model.newInstance("fulgur", Device.cpu(), FulgurEngine.ENGINE_NAME);
                Trainer pt = newTrainer(ptModel, optimizer.get());
                Trainer fu = newTrainer(fuModel, optimizer.get())) {
            DjlTestSupport.copyParameters(ptModel.getBlock(), fuModel.getBlock());
            assertSameParameters(name + " before training", ptModel.getBlock(), fuModel.getBlock(), 0);
            float[] initial = firstWeight(fuModel);
            for (int step = 0; step < STEPS; step++) {
                for (int b = 0; b < batchesPerStep; b++) {
                    for (Trainer t : new Trainer[] {pt, fu}) {
                        try (Batch batch = batch(t, step * batchesPerStep + b)) {
                            EasyTrain.trainBatch(t, batch);
                        }
                    }
                }
                pt.step();
                fu.step();
                assertSameParameters(name + " after step " + (step + 1), ptModel.getBlock(), fuModel.getBlock(),
                        DjlTestSupport.TOL);
            }
            assertFalse(Arrays.equals(initial, firstWeight(fuModel)), name + ": training left the weights unchanged");
            // a last forward on new data agrees too; each output sums FEATURES products of weights that may each
            // differ by TOL, so the outputs get ten times the parameters' tolerance (seen: 1.4e-5 on a 0.19 output)
            try (Batch b = batch(pt, 99); Batch f = batch(fu, 99)) {
                assertClose(name + ": predictions after training", pt.evaluate(b.getData()).head(),
                        fu.evaluate(f.getData()).head(), 10 * DjlTestSupport.TOL, 10 * DjlTestSupport.TOL);
            }
        }
    }

    private static float[] firstWeight(Model model) {
        return model.getBlock().getParameters().get(0).getValue().getArray().toFloatArray();
    }

    /**
     * EasyTrain.fit over an ArrayDataset (two shuffled epochs: batches taken with INT64 index arrays; one ordered
     * epoch: slices), with an Accuracy evaluator: same parameters, loss and accuracy on both engines.
     */
    @Test
    void fitOnAnArrayDatasetWithAccuracy() throws Exception {
        String[] engines = {"PyTorch", FulgurEngine.ENGINE_NAME};
        Model[] models = new Model[2];
        Trainer[] trainers = new Trainer[2];
        for (int k = 0; k < 2; k++) {
            models[k] = Model.newInstance("fit", Device.cpu(), engines[k]);
            models[k].setBlock(newBlock());
            trainers[k] = models[k].newTrainer(new DefaultTrainingConfig(new SoftmaxCrossEntropyLoss())
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(0.01f)).build())
                    .optDevices(new Device[] {Device.cpu()})
                    .addEvaluator(new Accuracy())
                    .addTrainingListeners(new EvaluatorTrainingListener()));
            trainers[k].initialize(new Shape(BATCH, FEATURES));
        }
        DjlTestSupport.copyParameters(models[0].getBlock(), models[1].getBlock());
        Result[] results = new Result[2];
        float[] labels = new float[40];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = (i * 3) % CLASSES;
        }
        for (int k = 0; k < 2; k++) {
            NDManager m = trainers[k].getManager();
            ArrayDataset shuffled = new ArrayDataset.Builder().setData(normal(m, 7, 40, FEATURES))
                    .optLabels(m.create(labels)).setSampling(BATCH, true).build();
            ArrayDataset ordered = new ArrayDataset.Builder().setData(normal(m, 7, 40, FEATURES))
                    .optLabels(m.create(labels)).setSampling(BATCH, false).build();
            DjlTestSupport.fulgur().setRandomSeed(5); // seeds DJL's sampler (RandomUtils) the same for both runs
            EasyTrain.fit(trainers[k], 2, shuffled, null);
            EasyTrain.fit(trainers[k], 1, ordered, null);
            TrainingResult r = trainers[k].getTrainingResult();
            results[k] = new Result(r.getTrainLoss(), r.getTrainEvaluation("Accuracy"));
            trainers[k].close();
        }
        try (Model pt = models[0]; Model fu = models[1]) {
            assertSameParameters("fit", pt.getBlock(), fu.getBlock(), DjlTestSupport.TOL);
            assertEquals(results[0].loss(), results[1].loss(), 1e-5, "training loss");
            assertEquals(results[0].accuracy(), results[1].accuracy(), 1e-6, "training accuracy");
        }
    }

    private record Result(float loss, float accuracy) {}

    /**
     * freezeParameters toggles setRequiresGradient: frozen weights stay, then train again, as on PyTorch. SGD with
     * momentum, not Adam: DJL's Adam takes its step t as the maximum update count over all parameters so far, so
     * once parameters have different counts t depends on the order ParameterStore visits them (its map's order,
     * keyed by random parameter ids) and differs between any two models, whatever the engine.
     */
    @Test
    void frozenParametersStayThenTrainAfterUnfreezing() {
        Supplier<Optimizer> sgd = () -> Optimizer.sgd().setLearningRateTracker(Tracker.fixed(0.05f)).optMomentum(0.9f)
                .build();
        try (Model ptModel = Model.newInstance("reference", Device.cpu(), "PyTorch");
                Model fuModel = Model.newInstance("fulgur", Device.cpu(), FulgurEngine.ENGINE_NAME);
                Trainer pt = newTrainer(ptModel, sgd.get());
                Trainer fu = newTrainer(fuModel, sgd.get())) {
            DjlTestSupport.copyParameters(ptModel.getBlock(), fuModel.getBlock());
            float[] initial = firstWeight(fuModel);
            for (int phase = 0; phase < 2; phase++) {
                boolean frozen = phase == 0;
                for (Model model : new Model[] {ptModel, fuModel}) {
                    ((SequentialBlock) model.getBlock()).getChildren().get(0).getValue().freezeParameters(frozen);
                }
                for (int step = 0; step < 2; step++) {
                    for (Trainer t : new Trainer[] {pt, fu}) {
                        try (Batch batch = batch(t, 10 * phase + step)) {
                            EasyTrain.trainBatch(t, batch);
                            t.step();
                        }
                    }
                }
                if (frozen) {
                    assertArrayEquals(initial, firstWeight(fuModel), "a frozen weight changed");
                }
                assertSameParameters((frozen ? "frozen" : "unfrozen") + " first layer", ptModel.getBlock(),
                        fuModel.getBlock(), DjlTestSupport.TOL);
            }
            assertFalse(Arrays.equals(initial, firstWeight(fuModel)), "the unfrozen weight did not train");
        }
    }

    @Test
    void adam() {
        trainBoth("Adam", () -> Optimizer.adam().optLearningRateTracker(Tracker.fixed(0.01f)).build(), 1);
    }

    @Test
    void adamWithDefaults() {
        trainBoth("Adam (defaults)", () -> Optimizer.adam().build(), 1);
    }

    @Test
    void adamW() {
        trainBoth("AdamW", () -> Optimizer.adamW().optLearningRateTracker(Tracker.fixed(0.01f)).optWeightDecays(0.1f)
                .build(), 1);
    }

    @Test
    void adamWWithDefaults() {
        trainBoth("AdamW (defaults)", () -> Optimizer.adamW().build(), 1);
    }

    @Test
    void sgdWithMomentum() {
        trainBoth("SGD momentum 0.9", () -> Optimizer.sgd().setLearningRateTracker(Tracker.fixed(0.05f))
                .optMomentum(0.9f).build(), 1);
    }

    @Test
    void sgdWithWeightDecayAndRescaleAccumulatingTwoBatchesPerStep() {
        trainBoth("SGD, wd 0.01, rescale 0.5, two batches per step", () -> Optimizer.sgd()
                .setLearningRateTracker(Tracker.fixed(0.05f)).optWeightDecays(0.01f).setRescaleGrad(0.5f).build(), 2);
    }
}
