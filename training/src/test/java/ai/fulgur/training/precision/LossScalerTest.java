package ai.fulgur.training.precision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.Pair;
import ai.fulgur.training.optim.ResumableAdamW;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link LossScaler}: a step whose gradients hold an inf is skipped (weights and AdamW moments unchanged, gradients
 * cleared, scale halved); good steps divide the gradients by the scale exactly and double it after the growth
 * interval; clipping applies to the unscaled norm.
 */
class LossScalerTest {

    private static Block linear(NDManager m) {
        Block b = Linear.builder().setUnits(3).build();
        b.initialize(m, DataType.FLOAT32, new Shape(2, 4));
        return b;
    }

    /** Sets each gradient of {@code b} to scale · g(i, t) with g a fixed pattern. */
    private static void fillGradients(Block b, double scale, int t) {
        for (Pair<String, Parameter> p : b.getParameters()) {
            NDArray g = p.getValue().getArray().getGradient();
            float[] v = new float[(int) g.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (scale * pattern(i, t));
            }
            g.set(v);
        }
    }

    private static double pattern(int i, int t) {
        return Math.sin(0.7 * i + 1.3 * t) * 0.25;
    }

    private static void step(ResumableAdamW opt, Block b) {
        for (Pair<String, Parameter> p : b.getParameters()) {
            opt.update(p.getValue().getId(), p.getValue().getArray(), p.getValue().getArray().getGradient());
        }
    }

    private static List<float[]> snapshot(Block b) {
        List<float[]> out = new ArrayList<>();
        for (Pair<String, Parameter> p : b.getParameters()) {
            out.add(p.getValue().getArray().toFloatArray());
        }
        return out;
    }

    private static List<float[]> moments(ResumableAdamW opt, Block b) {
        List<float[]> out = new ArrayList<>();
        for (Map.Entry<String, NDArray> e : opt.exportState(b).entrySet()) {
            out.add(e.getValue().toFloatArray());
        }
        return out;
    }

    @Test
    void overflowSkipsTheStepAndHalvesTheScaleGoodStepsGrowIt() {
        try (NDManager m = NDManager.newBaseManager("Fulgur")) {
            Block b = linear(m);
            for (Pair<String, Parameter> p : b.getParameters()) {
                p.getValue().getArray().setRequiresGradient(true);
            }
            ResumableAdamW opt = ResumableAdamW.builder().optLearningRateTracker(Tracker.fixed(0.01f)).build();
            LossScaler scaler = new LossScaler(1024, 2);

            // step 1, good: gradients come back divided by the scale exactly (1024 is a power of two)
            fillGradients(b, 1024, 1);
            assertTrue(scaler.unscaleAndClip(b, 0));
            for (Pair<String, Parameter> p : b.getParameters()) {
                float[] g = p.getValue().getArray().getGradient().toFloatArray();
                for (int i = 0; i < g.length; i++) {
                    assertEquals((float) pattern(i, 1), g[i], 0f, p.getKey() + " gradient " + i + " unscaled");
                }
            }
            assertEquals(1024, scaler.scale(), "one good step of two: no growth yet");
            step(opt, b);

            // step 2, overflow: one inf among the gradients
            List<float[]> weights = snapshot(b);
            List<float[]> moments = moments(opt, b);
            fillGradients(b, 1024, 2);
            NDArray w = b.getParameters().get(0).getValue().getArray();
            float[] g = w.getGradient().toFloatArray();
            g[3] = Float.POSITIVE_INFINITY;
            w.getGradient().set(g);
            assertFalse(scaler.unscaleAndClip(b, 1.0), "an inf gradient must skip the step");
            assertEquals(512, scaler.scale(), "halved");
            assertEquals(1, scaler.skippedSteps());
            assertTrue(Double.isNaN(scaler.lastNorm()));
            for (Pair<String, Parameter> p : b.getParameters()) {
                for (float x : p.getValue().getArray().getGradient().toFloatArray()) {
                    assertEquals(0f, x, p.getKey() + ": the skipped step's gradients are cleared");
                }
            }
            // the loop does not call the optimizer on a skipped step: weights and moments are those of step 1
            List<float[]> weightsAfter = snapshot(b);
            List<float[]> momentsAfter = moments(opt, b);
            for (int k = 0; k < weights.size(); k++) {
                assertArrayEquals(weights.get(k), weightsAfter.get(k));
            }
            for (int k = 0; k < moments.size(); k++) {
                assertArrayEquals(moments.get(k), momentsAfter.get(k));
            }

            // a NaN skips too
            fillGradients(b, 512, 3);
            g = w.getGradient().toFloatArray();
            g[0] = Float.NaN;
            w.getGradient().set(g);
            assertFalse(scaler.unscaleAndClip(b, 0));
            assertEquals(256, scaler.scale());
            assertEquals(2, scaler.skippedSteps());

            // two good steps in a row double the scale
            fillGradients(b, 256, 4);
            assertTrue(scaler.unscaleAndClip(b, 0));
            assertEquals(256, scaler.scale());
            fillGradients(b, 256, 5);
            assertTrue(scaler.unscaleAndClip(b, 0));
            assertEquals(512, scaler.scale(), "doubled after the growth interval of 2 good steps");
            assertEquals(2, scaler.skippedSteps());
        }
    }

    @Test
    void clipsTheUnscaledNorm() {
        try (NDManager m = NDManager.newBaseManager("Fulgur")) {
            Block b = linear(m);
            for (Pair<String, Parameter> p : b.getParameters()) {
                p.getValue().getArray().setRequiresGradient(true);
            }
            LossScaler scaler = new LossScaler(4096, 100);
            fillGradients(b, 4096, 7);
            double sumSquares = 0;
            for (Pair<String, Parameter> p : b.getParameters()) {
                for (int i = 0; i < p.getValue().getArray().size(); i++) {
                    sumSquares += pattern(i, 7) * pattern(i, 7);
                }
            }
            double norm = Math.sqrt(sumSquares);
            double maxNorm = norm / 4;
            assertTrue(scaler.unscaleAndClip(b, maxNorm));
            assertEquals(norm, scaler.lastNorm(), 1e-5 * norm, "the norm is that of the unscaled gradients");
            double factor = maxNorm / (norm + 1e-6);
            for (Pair<String, Parameter> p : b.getParameters()) {
                float[] g = p.getValue().getArray().getGradient().toFloatArray();
                for (int i = 0; i < g.length; i++) {
                    assertEquals(pattern(i, 7) * factor, g[i], 1e-6, p.getKey() + " gradient " + i);
                }
            }
        }
    }

    @Test
    void badSettingsAreRejectedWithTheirValues() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new LossScaler(0, 10));
        assertTrue(e.getMessage().contains("0.0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new LossScaler(8, 0));
        assertTrue(e.getMessage().contains("got 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Precision.parse("fp8"));
        assertTrue(e.getMessage().contains("'fp8'") && e.getMessage().contains("bf16"), e.getMessage());
        assertEquals(Precision.FP16, Precision.parse("FP16"));
        assertTrue(Precision.FP16.needsLossScaling() && !Precision.BF16.needsLossScaling());
    }

}
