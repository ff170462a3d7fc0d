package ai.fulgur.training.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Clipping by global norm against the formula in float64 (PyTorch's clip_grad_norm_), on the CPU. */
class GradientClippingTest {

    /** Gradients of three shapes whose values vary in sign and size; {@code amplitude} sets the global norm. */
    static float[][] gradients(double amplitude) {
        int[] sizes = {7 * 5, 5, 113};
        float[][] g = new float[sizes.length][];
        for (int t = 0; t < sizes.length; t++) {
            g[t] = new float[sizes[t]];
            for (int i = 0; i < sizes[t]; i++) {
                g[t][i] = (float) (amplitude * Math.sin(0.37 * i + 1.9 * t) * (1 + (i % 4)));
            }
        }
        return g;
    }

    static List<NDArray> upload(NDManager m, float[][] g) {
        List<NDArray> arrays = new ArrayList<>();
        arrays.add(m.create(g[0], new Shape(7, 5)));
        arrays.add(m.create(g[1], new Shape(5)));
        arrays.add(m.create(g[2], new Shape(113)));
        return arrays;
    }

    /** The global norm in float64. */
    static double norm(float[][] g) {
        double s = 0;
        for (float[] t : g) {
            for (float v : t) {
                s += (double) v * v;
            }
        }
        return Math.sqrt(s);
    }

    /**
     * Clips on {@code device} and compares the returned norm and every clipped value with the float64 formula
     * g · min(1, maxNorm / (norm + 1e-6)); F32 sums of a few hundred terms agree to a relative 1e-5.
     */
    static void clipsAsTheFormula(Device device, double amplitude, double maxNorm) {
        float[][] g = gradients(amplitude);
        double norm = norm(g);
        double factor = Math.min(1, maxNorm / (norm + 1e-6));
        try (NDManager m = NDManager.newBaseManager(device, "Fulgur")) {
            List<NDArray> arrays = upload(m, g);
            NDArray got = GradientClipping.clipByGlobalNorm(arrays, maxNorm, m);
            assertEquals(device, got.getDevice(), "the norm stays on the gradients' device");
            assertEquals(norm, got.getFloat(), 1e-5 * norm, "global norm");
            double clippedNorm = 0;
            for (int t = 0; t < g.length; t++) {
                float[] v = arrays.get(t).toFloatArray();
                for (int i = 0; i < v.length; i++) {
                    double want = g[t][i] * factor;
                    assertEquals(want, v[i], 1e-5 * Math.abs(want) + 1e-7, "tensor " + t + " index " + i
                            + " (norm " + norm + ", maxNorm " + maxNorm + ")");
                    clippedNorm += (double) v[i] * v[i];
                }
            }
            assertEquals(Math.min(norm, maxNorm), Math.sqrt(clippedNorm), 1e-4 * Math.min(norm, maxNorm));
        }
    }

    @Test
    void scalesDownToMaxNormWhenTheNormIsAbove() {
        double norm = norm(gradients(3));
        assertTrue(norm > 10, "the case clips: norm " + norm);
        clipsAsTheFormula(Device.cpu(), 3, 1.0);
    }

    @Test
    void leavesGradientsUnchangedWhenTheNormIsBelow() {
        double norm = norm(gradients(0.01));
        assertTrue(norm < 1, "the case does not clip: norm " + norm);
        clipsAsTheFormula(Device.cpu(), 0.01, 1.0);
    }

    @Test
    void withinTheNormTheGradientsKeepTheirBits() {
        // the factor min(1, ·) is exactly 1 there: a captured or eager step that does not clip changes nothing
        float[][] g = gradients(0.01);
        try (NDManager m = NDManager.newBaseManager(Device.cpu(), "Fulgur")) {
            List<NDArray> arrays = upload(m, g);
            GradientClipping.clipByGlobalNorm(arrays, 100, m);
            for (int t = 0; t < g.length; t++) {
                assertArrayEquals(g[t], arrays.get(t).toFloatArray(), "tensor " + t);
            }
        }
    }

    @Test
    void rejectsANonPositiveBoundAndReturnsNullWithoutGradients() {
        try (NDManager m = NDManager.newBaseManager(Device.cpu(), "Fulgur")) {
            List<NDArray> arrays = upload(m, gradients(1));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> GradientClipping.clipByGlobalNorm(arrays, 0, m));
            assertTrue(e.getMessage().contains("got 0.0"), e.getMessage());
            assertNull(GradientClipping.clipByGlobalNorm(List.of(), 1, m));
        }
    }
}
