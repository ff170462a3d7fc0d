package ai.fulgur.training.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The acceptance check for the DJL engine: an unmodified DJL program (MLP from DJL blocks, EasyTrain.fit,
 * Adam, softmax cross-entropy, Accuracy, progress listener) reaches the same accuracy threshold on the Fulgur engine
 * as on DJL's PyTorch engine, and the model it saves loads back with the same predictions.
 */
class SpiralClassifierTest {
    /** Three noisy spiral arms: chance is 1/3; a working MLP and optimizer clear 0.9 within a few epochs. */
    private static final float THRESHOLD = 0.9f;

    private static SpiralClassifier.Config config(String engine, Path saveTo) {
        return new SpiralClassifier.Config(engine, "cpu", 300, 10, 50, 48, 11, saveTo, false);
    }

    @Test
    void reachesThresholdOnFulgur(@TempDir Path dir) throws Exception {
        SpiralClassifier.Result r = SpiralClassifier.train(config("Fulgur", dir));
        System.out.println("Fulgur: " + r);
        assertTrue(r.validationAccuracy() >= THRESHOLD, "Fulgur validation accuracy " + r.validationAccuracy()
                + " below " + THRESHOLD);
        assertTrue(Files.exists(dir.resolve("spiral-mlp-0010.params")), "model file written");
        assertSavedModelPredictsLikePyTorch(dir);
    }

    @Test
    void reachesThresholdOnPyTorch() throws Exception {
        SpiralClassifier.Result r = SpiralClassifier.train(config("PyTorch", null));
        System.out.println("PyTorch: " + r);
        assertTrue(r.validationAccuracy() >= THRESHOLD, "PyTorch validation accuracy " + r.validationAccuracy()
                + " below " + THRESHOLD);
    }

    /** Loads the Fulgur-trained parameters into both engines and compares logits on fresh points. */
    private static void assertSavedModelPredictsLikePyTorch(Path dir) throws Exception {
        float[] points = {0.1f, 0.2f, -0.5f, 0.3f, 0.7f, -0.7f, 0f, 0f};
        float[][] logits = new float[2][];
        String[] engines = {"Fulgur", "PyTorch"};
        for (int e = 0; e < 2; e++) {
            Engine engine = Engine.getEngine(engines[e]);
            try (Model model = Model.newInstance("spiral-mlp", engine.defaultDevice(), engines[e])) {
                Block block = SpiralClassifier.block(48);
                model.setBlock(block);
                model.load(dir, "spiral-mlp");
                NDManager m = model.getNDManager();
                NDArray x = m.create(points, new Shape(4, 2));
                NDList out = block.forward(new ParameterStore(m, false), new NDList(x), false);
                logits[e] = out.singletonOrThrow().toFloatArray();
            }
        }
        assertEquals(12, logits[0].length);
        for (int i = 0; i < logits[0].length; i++) {
            assertEquals(logits[1][i], logits[0][i], 1e-4 * (1 + Math.abs(logits[1][i])),
                    "logit " + i + ": Fulgur vs PyTorch with the same saved parameters");
        }
    }
}
