package ai.fulgur.autograd.djl;

import static ai.fulgur.autograd.djl.DjlTestSupport.assertClose;
import static ai.fulgur.autograd.djl.DjlTestSupport.assertSameParameters;
import static ai.fulgur.autograd.djl.DjlTestSupport.normal;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.modality.nlp.DefaultVocabulary;
import ai.djl.modality.nlp.embedding.TrainableWordEmbedding;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.SoftmaxCrossEntropyLoss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.Batchifier;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DJL's .params files on the Fulgur engine: save then load reproduces outputs exactly, parameters move between the
 * Fulgur and PyTorch engines in both directions with the same outputs, and a loaded model trains.
 */
class ModelTest {
    private static final String FULGUR = FulgurEngine.ENGINE_NAME;
    private static final String PYTORCH = "PyTorch";

    @TempDir
    Path dir;

    private static Block mlp() {
        return new SequentialBlock()
                .add(Linear.builder().setUnits(12).build())
                .add(Activation.geluBlock())
                .add(LayerNorm.builder().build())
                .add(Linear.builder().setUnits(3).optBias(false).build());
    }

    private static Block sequenceModel() {
        return new SequentialBlock()
                .add(new TrainableWordEmbedding(new DefaultVocabulary(List.of("a", "b", "c", "d", "e")), 4))
                .add(LayerNorm.builder().axis(2).build())
                .add(Linear.builder().setUnits(5).build());
    }

    private static NDList mlpInput(NDManager m) {
        return new NDList(normal(m, 1, 4, 6));
    }

    private static NDList tokens(NDManager m) {
        return new NDList(m.create(new long[] {0, 4, 2, 2, 1, 3}, new Shape(2, 3)));
    }

    /** A model on {@code engine} with a freshly initialised block. */
    private static Model initialised(String engine, Supplier<Block> block, Shape inputShape) {
        Model model = Model.newInstance("model", Device.cpu(), engine);
        model.setBlock(block.get());
        model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, inputShape);
        return model;
    }

    /** A model on {@code engine} whose block's parameters come from {@code dir}. */
    private Model loaded(String engine, Supplier<Block> block, String name)
            throws IOException, MalformedModelException {
        Model model = Model.newInstance(name, Device.cpu(), engine);
        model.setBlock(block.get());
        model.load(dir, name);
        return model;
    }

    private static NDArray predict(Model model, Function<NDManager, NDList> input) {
        NDManager m = model.getNDManager();
        return model.getBlock().forward(new ParameterStore(m, false), input.apply(m), false).head();
    }

    private void roundTrip(String what, Supplier<Block> block, Function<NDManager, NDList> input, Shape inputShape)
            throws Exception {
        try (Model saved = initialised(FULGUR, block, inputShape)) {
            NDArray before = predict(saved, input);
            saved.save(dir, "roundtrip");
            assertTrue(Files.exists(dir.resolve("roundtrip-0000.params")), "Model.save writes roundtrip-0000.params");
            try (Model back = loaded(FULGUR, block, "roundtrip")) {
                assertInstanceOf(FulgurNDArray.class, back.getBlock().getParameters().get(0).getValue().getArray());
                assertSameParameters(what + ": loaded parameters", saved.getBlock(), back.getBlock(), 0);
                assertClose(what + ": outputs after save and load", before, predict(back, input), 0, 0);
            }
        }
    }

    private void acrossEngines(String what, Supplier<Block> block, Function<NDManager, NDList> input,
            Shape inputShape, String from, String to) throws Exception {
        String name = from + "-to-" + to;
        try (Model source = initialised(from, block, inputShape)) {
            source.save(dir, name);
            try (Model target = loaded(to, block, name)) {
                assertEquals(to, target.getNDManager().getEngine().getEngineName());
                assertSameParameters(what + " " + name + ": parameters", source.getBlock(), target.getBlock(), 0);
                assertClose(what + " " + name + ": outputs", predict(source, input), predict(target, input));
            }
        }
    }

    @Test
    void saveThenLoadReproducesOutputsExactly() throws Exception {
        roundTrip("MLP", ModelTest::mlp, ModelTest::mlpInput, new Shape(4, 6));
        roundTrip("Embedding-LayerNorm-Linear", ModelTest::sequenceModel, ModelTest::tokens, new Shape(2, 3));
    }

    @Test
    void parametersSavedByFulgurLoadIntoPyTorch() throws Exception {
        acrossEngines("MLP", ModelTest::mlp, ModelTest::mlpInput, new Shape(4, 6), FULGUR, PYTORCH);
        acrossEngines("Embedding-LayerNorm-Linear", ModelTest::sequenceModel, ModelTest::tokens, new Shape(2, 3),
                FULGUR, PYTORCH);
    }

    @Test
    void parametersSavedByPyTorchLoadIntoFulgur() throws Exception {
        acrossEngines("MLP", ModelTest::mlp, ModelTest::mlpInput, new Shape(4, 6), PYTORCH, FULGUR);
        acrossEngines("Embedding-LayerNorm-Linear", ModelTest::sequenceModel, ModelTest::tokens, new Shape(2, 3),
                PYTORCH, FULGUR);
    }

    /** A loaded model trains (newTrainer unfreezes its parameters) as the PyTorch engine's does from the same file. */
    @Test
    void aLoadedModelTrainsLikePyTorch() throws Exception {
        try (Model source = initialised(FULGUR, ModelTest::mlp, new Shape(4, 6))) {
            source.save(dir, "pretrained");
        }
        try (Model pt = loaded(PYTORCH, ModelTest::mlp, "pretrained");
                Model fu = loaded(FULGUR, ModelTest::mlp, "pretrained");
                Trainer ptTrainer = pt.newTrainer(sgdConfig());
                Trainer fuTrainer = fu.newTrainer(sgdConfig())) {
            float[] before = fu.getBlock().getParameters().get(0).getValue().getArray().toFloatArray();
            for (int step = 0; step < 3; step++) {
                for (Trainer t : new Trainer[] {ptTrainer, fuTrainer}) {
                    NDManager m = t.getManager().newSubManager();
                    try (Batch batch = new Batch(m, mlpInput(m), new NDList(m.create(new float[] {0, 2, 1, step % 3})),
                            4, Batchifier.STACK, Batchifier.STACK, step, 3)) {
                        EasyTrain.trainBatch(t, batch);
                        t.step();
                    }
                }
                assertSameParameters("loaded model after step " + (step + 1), pt.getBlock(), fu.getBlock(),
                        DjlTestSupport.TOL);
            }
            assertFalse(Arrays.equals(before, fu.getBlock().getParameters().get(0).getValue().getArray()
                    .toFloatArray()), "the loaded model did not train");
        }
    }

    private static DefaultTrainingConfig sgdConfig() {
        return new DefaultTrainingConfig(new SoftmaxCrossEntropyLoss())
                .optOptimizer(Optimizer.sgd().setLearningRateTracker(Tracker.fixed(0.1f)).build())
                .optDevices(new Device[] {Device.cpu()});
    }

    @Test
    void loadWithoutABlockSaysWhatToDo() {
        try (Model model = Model.newInstance("no-block", Device.cpu(), FULGUR)) {
            MalformedModelException e = assertThrows(MalformedModelException.class, () -> model.load(dir, "x"));
            assertTrue(e.getMessage().contains("setBlock"), e.getMessage());
        }
    }
}
