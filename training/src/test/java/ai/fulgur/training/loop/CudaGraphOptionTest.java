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
import ai.fulgur.training.precision.Precision;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The CUDA graph option where it cannot run (the GPU side is Gpt2CudaGraphTest): bad settings are named, and a CPU
 * run (or an fp16 one) says why it trains eagerly and computes exactly the losses of a run without the option.
 */
class CudaGraphOptionTest {
    private static final int DIGITS = 2;
    private static final int LENGTH = AdditionDataset.sequenceLength(DIGITS) - 1;

    @Test
    void badSettingsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TrainingLoop.CudaGraphOptions(0, 10));
        assertTrue(e.getMessage().contains("eagerSteps 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TrainingLoop.CudaGraphOptions(3, 0));
        assertTrue(e.getMessage().contains("readLossEvery") && e.getMessage().contains("0"), e.getMessage());
    }

    private static Model model() {
        Engine.getEngine("Fulgur").setRandomSeed(5);
        Model model = Model.newInstance("graph-option", Device.cpu(), "Fulgur");
        model.setBlock(CausalTransformer.builder().setVocabSize(AdditionDataset.VOCAB).setMaxLength(LENGTH)
                .setEmbeddingSize(32).setNumLayers(1).setNumHeads(4).build());
        model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(8, LENGTH));
        return model;
    }

    private static TrainingLoop.Result run(TrainingLoop.CudaGraphOptions graph, Precision precision,
            List<String> messages) {
        try (Model m = model()) {
            TrainingLoop loop = new TrainingLoop(m, new TokenCrossEntropyLoss(), ResumableAdamW.builder()
                    .optLearningRateTracker(Tracker.fixed(3e-3f)), new String[] {"bias"},
                    AdditionDataset.builder().optDigits(DIGITS).build(), null,
                    new TrainingLoop.Options(4, 8, 0, 0, 0, 0.5, precision), null, null,
                    new TrainingLoop.Listener() {
                        @Override
                        public void onCudaGraph(String message) {
                            messages.add(message);
                        }
                    }, Device.cpu());
            return loop.cudaGraph(graph).run();
        }
    }

    @Test
    void onTheCpuTheRunSaysWhyAndTrainsEagerlyWithTheSameLosses() {
        List<String> messages = new ArrayList<>();
        TrainingLoop.Result plain = run(null, Precision.FP32, messages);
        assertTrue(messages.isEmpty(), "no option, no message: " + messages);
        TrainingLoop.Result withOption = run(new TrainingLoop.CudaGraphOptions(1, 2), Precision.FP32, messages);
        assertEquals(1, messages.size(), messages.toString());
        assertTrue(messages.get(0).contains("CUDA graphs need a GPU"), messages.get(0));
        assertEquals(plain.curve().train(), withOption.curve().train());
    }

    @Test
    void fp16LossScalingIsNamedAsTheReason() {
        List<String> messages = new ArrayList<>();
        TrainingLoop loop;
        try (Model m = model()) {
            loop = new TrainingLoop(m, new TokenCrossEntropyLoss(), ResumableAdamW.builder(), new String[0],
                    AdditionDataset.builder().optDigits(DIGITS).build(), null,
                    new TrainingLoop.Options(1, 8, 0, 0, 0, 0, Precision.FP16), null, null, null, Device.gpu(0));
            String obstacle = loop.cudaGraphObstacle();
            assertTrue(obstacle != null && obstacle.contains("fp16") && obstacle.contains("bf16"), obstacle);
        }
    }
}
