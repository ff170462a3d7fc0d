package ai.fulgur.training.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.tracker.Tracker;
import ai.fulgur.training.checkpoint.BlockWeights;
import ai.fulgur.training.checkpoint.CheckpointException;
import ai.fulgur.training.examples.AdditionDataset;
import ai.fulgur.training.loss.TokenCrossEntropyLoss;
import ai.fulgur.training.nn.CausalTransformer;
import ai.fulgur.training.optim.ResumableAdamW;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingLoopTest {
    private static final int DIGITS = 2;
    private static final int LENGTH = AdditionDataset.sequenceLength(DIGITS) - 1;

    @TempDir
    Path dir;

    private static Model model() {
        Engine.getEngine("Fulgur").setRandomSeed(5);
        Model model = Model.newInstance("resume", Device.cpu(), "Fulgur");
        // dropout everywhere, so an exact resume also needs the random stream restored
        model.setBlock(CausalTransformer.builder().setVocabSize(AdditionDataset.VOCAB).setMaxLength(LENGTH)
                .setEmbeddingSize(32).setNumLayers(2).setNumHeads(4).optDropout(0.1f).optAttentionDropout(0.1f)
                .build());
        model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(8, LENGTH));
        return model;
    }

    private static TrainingLoop loop(Model model, int steps, Path checkpoint) {
        ResumableAdamW.Builder adam = ResumableAdamW.builder().optLearningRateTracker(Tracker.cosine()
                .setBaseValue(3e-3f).optFinalValue(1e-4f).setMaxUpdates(steps).build());
        return new TrainingLoop(model, new TokenCrossEntropyLoss(), adam, new String[] {"bias"},
                AdditionDataset.builder().optDigits(DIGITS).build(),
                AdditionDataset.builder().optDigits(DIGITS).optHeldOut(true).optSize(16).build(),
                new TrainingLoop.Options(steps, 8, 2, 2, 0, 0.5), checkpoint,
                d -> BlockWeights.save(model.getBlock(), d.resolve(BlockWeights.FILE)), null, Device.cpu());
    }

    /** Train 6 steps == train 3, checkpoint, load into a fresh model and optimizer, train 3 more. */
    @Test
    void resumedRunRepeatsTheLossesOfAnUninterruptedOne() throws Exception {
        List<LossCurve.Point> straight;
        float[] straightWeights;
        try (Model m = model()) {
            straight = loop(m, 6, null).run().curve().train();
            straightWeights = m.getBlock().getParameters().get(0).getValue().getArray().toFloatArray();
        }
        Path checkpoint = dir.resolve("ckpt");
        try (Model m = model()) {
            TrainingLoop.Result half = new TrainingLoop(m, new TokenCrossEntropyLoss(), ResumableAdamW.builder()
                    .optLearningRateTracker(Tracker.cosine().setBaseValue(3e-3f).optFinalValue(1e-4f)
                            .setMaxUpdates(6).build()), new String[] {"bias"},
                    AdditionDataset.builder().optDigits(DIGITS).build(), null,
                    new TrainingLoop.Options(3, 8, 0, 0, 0, 0.5), checkpoint,
                    d -> BlockWeights.save(m.getBlock(), d.resolve(BlockWeights.FILE)), null, Device.cpu()).run();
            assertEquals(straight.subList(0, 3), half.curve().train());
        }
        assertTrue(Files.isRegularFile(checkpoint.resolve(TrainingState.FILE)));
        assertTrue(Files.readString(checkpoint.resolve("loss.svg")).startsWith("<svg"));
        try (Model m = model()) {
            Engine.getEngine("Fulgur").setRandomSeed(999); // a different stream: the checkpoint must restore it
            BlockWeights.load(m.getBlock(), checkpoint.resolve(BlockWeights.FILE));
            TrainingState state = TrainingState.read(checkpoint, m.getNDManager());
            assertEquals(3, state.step());
            List<LossCurve.Point> resumed = loop(m, 6, null).run(state).curve().train();
            assertEquals(straight, resumed);
            assertArrayEquals(straightWeights, m.getBlock().getParameters().get(0).getValue().getArray()
                    .toFloatArray(), 0f);
        }
    }

    @Test
    void checkpointsAreReplacedWholeAndEvalLossIsRecorded() throws Exception {
        Path checkpoint = dir.resolve("run");
        try (Model m = model()) {
            TrainingLoop.Result r = loop(m, 4, checkpoint).run();
            assertEquals(List.of(2L, 4L), r.curve().eval().stream().map(LossCurve.Point::step).toList());
            assertTrue(Double.isFinite(r.lastEvalLoss()));
        }
        try (var files = Files.list(dir)) {
            assertEquals(List.of(checkpoint), files.toList(), "no .partial or .old directory left");
        }
        assertFalse(Files.exists(dir.resolve("run.partial")));
    }

    @Test
    void resumingFromADirectoryWithoutStateIsAClearError() throws Exception {
        Files.createDirectories(dir.resolve("empty"));
        try (Model m = model()) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> TrainingState.read(dir.resolve("empty"), m.getNDManager()));
            assertTrue(e.getMessage().contains(TrainingState.FILE), e.getMessage());
            e = assertThrows(CheckpointException.class,
                    () -> BlockWeights.load(m.getBlock(), dir.resolve("empty/weights.safetensors")));
            assertTrue(e.getMessage().contains("weights.safetensors"), e.getMessage());
        }
    }
}
