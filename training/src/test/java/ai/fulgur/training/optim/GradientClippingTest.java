package ai.fulgur.training.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link GradientClipping#clipByGlobalNormOnDevice} against the formula in float64. */
class GradientClippingTest {

    /** A linear block whose gradients are set to known values (element i of parameter p: sin(i + 3p) · scale). */
    private static Block withGradients(NDManager m, double scale) {
        Block b = Linear.builder().setUnits(3).build();
        b.initialize(m, DataType.FLOAT32, new Shape(2, 4));
        int p = 0;
        for (Pair<String, Parameter> e : b.getParameters()) {
            NDArray w = e.getValue().getArray();
            w.setRequiresGradient(true);
            NDArray g = w.getGradient();
            float[] v = new float[(int) g.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (Math.sin(i + 3 * p) * scale);
            }
            m.create(v, g.getShape()).copyTo(g);
            p++;
        }
        return b;
    }

    private static List<float[]> gradients(Block b) {
        List<float[]> out = new ArrayList<>();
        for (NDArray g : GradientClipping.gradients(b)) {
            out.add(g.toFloatArray());
        }
        return out;
    }

    @Test
    void clipsToTheGlobalNormAsTheFormulaSays() {
        try (NDManager m = NDManager.newBaseManager("Fulgur"); NDManager scope = m.newSubManager()) {
            Block b = withGradients(m, 5);
            List<float[]> before = gradients(b);
            double sum = 0;
            for (float[] g : before) {
                for (float x : g) {
                    sum += (double) x * x;
                }
            }
            double norm = Math.sqrt(sum);
            double maxNorm = 1.5;
            NDArray reported = GradientClipping.clipByGlobalNormOnDevice(b, maxNorm, scope);
            assertEquals(norm, reported.getFloat(), 1e-5 * norm, "norm before clipping");
            double coefficient = maxNorm / (norm + 1e-6);
            List<float[]> after = gradients(b);
            for (int p = 0; p < before.size(); p++) {
                for (int i = 0; i < before.get(p).length; i++) {
                    double want = before.get(p)[i] * coefficient;
                    assertEquals(want, after.get(p)[i], 1e-6 * Math.max(1, Math.abs(want)), "parameter " + p
                            + " element " + i);
                }
            }
        }
    }

    @Test
    void withinTheNormTheGradientsKeepTheirBits() {
        try (NDManager m = NDManager.newBaseManager("Fulgur"); NDManager scope = m.newSubManager()) {
            Block b = withGradients(m, 0.01);
            List<float[]> before = gradients(b);
            GradientClipping.clipByGlobalNormOnDevice(b, 100, scope);
            List<float[]> after = gradients(b);
            for (int p = 0; p < before.size(); p++) {
                assertArrayEquals(before.get(p), after.get(p), "parameter " + p);
            }
        }
    }
}
