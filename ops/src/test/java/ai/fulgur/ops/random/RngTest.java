package ai.fulgur.ops.random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.testing.TestTensors;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link Rng}: uniform and normal fills are reproducible for a (seed, offset), change with the seed, shift with the
 * offset, follow the Philox stream element by element, and have the right mean and variance (bounds of 5 standard
 * errors); dropout equals x · mask / (1 − p) with the mask regenerated here from Philox, its backward uses the same
 * mask, the kept fraction is 1 − p within 5 standard errors, p = 0 is the identity, and bad p is rejected.
 */
class RngTest {
    private static final int N = 200_003; // odd, and large enough for tight statistics

    @Test
    void uniformIsReproducibleAndSeeded() {
        Tensor a = Rng.uniform(Shape.of(N), DType.F32, Device.CPU, 42, 0, 0, 1);
        Tensor b = Rng.uniform(Shape.of(N), DType.F32, Device.CPU, 42, 0, 0, 1);
        Tensor c = Rng.uniform(Shape.of(N), DType.F32, Device.CPU, 43, 0, 0, 1);
        assertArrayEquals(a.toFloatArray(), b.toFloatArray(), "same seed and offset");
        float[] av = a.toFloatArray();
        float[] cv = c.toFloatArray();
        int same = 0;
        for (int i = 0; i < N; i++) {
            same += av[i] == cv[i] ? 1 : 0;
        }
        assertTrue(same < 100, same + " of " + N + " elements equal across seeds 42 and 43");
    }

    @Test
    void uniformFollowsThePhiloxStreamAndTheOffsetShiftsIt() {
        long seed = 0x5eed_1234_abcdL;
        Tensor base = Rng.uniform(Shape.of(7, 203), DType.F64, Device.CPU, seed, 0, -2, 3);
        double[] bv = base.toDoubleArray();
        for (int i = 0; i < bv.length; i++) {
            assertEquals(-2 + 5 * (double) Philox.uniform(seed, 0, i), bv[i], 1e-15, "element " + i);
        }
        for (long k : new long[] {1, 3, 4, 1000}) {
            Tensor shifted = Rng.uniform(Shape.of(50), DType.F64, Device.CPU, seed, k, -2, 3);
            double[] sv = shifted.toDoubleArray();
            for (int i = 0; i < sv.length; i++) {
                assertEquals(bv[(int) k + i], sv[i], "offset " + k + " element " + i);
            }
        }
        Tensor big = Rng.uniform(Shape.of(3), DType.F32, Device.CPU, seed, 1L << 33, 0, 1);
        for (int i = 0; i < 3; i++) {
            assertEquals(Philox.uniform(seed, 0, (1L << 33) + i), big.toFloatArray()[i], "offsets past 2^32");
        }
    }

    @Test
    void uniformStatistics() {
        Tensor u = Rng.uniform(Shape.of(N), DType.F64, Device.CPU, 7, 11, 0, 1);
        double[] v = u.toDoubleArray();
        double mean = 0;
        double min = 1;
        double max = 0;
        for (double x : v) {
            mean += x;
            min = Math.min(min, x);
            max = Math.max(max, x);
        }
        mean /= N;
        double var = 0;
        for (double x : v) {
            var += (x - mean) * (x - mean);
        }
        var /= N - 1;
        assertEquals(0.5, mean, 5 * Math.sqrt(1.0 / 12 / N), "mean");
        assertEquals(1.0 / 12, var, 5 * Math.sqrt(1.0 / 180 / N), "variance"); // Var(s²) ≈ (μ4 − σ⁴)/n = 1/180n
        assertTrue(min >= 0 && max < 1, "range [" + min + ", " + max + "]");
        // ten equal bins, each within 5 standard errors of N/10
        int[] bins = new int[10];
        for (double x : v) {
            bins[(int) (x * 10)]++;
        }
        double sd = Math.sqrt(N * 0.1 * 0.9);
        for (int b = 0; b < 10; b++) {
            assertEquals(N / 10.0, bins[b], 5 * sd, "bin " + b);
        }
    }

    @Test
    void normalStatisticsAndReproducibility() {
        Tensor z = Rng.normal(Shape.of(N), DType.F64, Device.CPU, 9, 0, 1.5, 2);
        assertArrayEquals(z.toDoubleArray(), Rng.normal(Shape.of(N), DType.F64, Device.CPU, 9, 0, 1.5, 2)
                .toDoubleArray());
        double[] v = z.toDoubleArray();
        double mean = 0;
        for (double x : v) {
            mean += x;
        }
        mean /= N;
        double m2 = 0;
        double m4 = 0;
        for (double x : v) {
            double d = x - mean;
            m2 += d * d;
            m4 += d * d * d * d;
        }
        m2 /= N;
        m4 /= N;
        assertEquals(1.5, mean, 5 * 2 / Math.sqrt(N), "mean");
        assertEquals(4.0, m2, 5 * 4 * Math.sqrt(2.0 / N), "variance"); // Var(s²) = 2σ⁴/n
        assertEquals(3.0, m4 / (m2 * m2), 0.1, "kurtosis of a normal");
        Tensor shifted = Rng.normal(Shape.of(10), DType.F64, Device.CPU, 9, 5, 1.5, 2);
        for (int i = 0; i < 10; i++) {
            assertEquals(v[5 + i], shifted.toDoubleArray()[i], "normal offset 5 element " + i);
        }
        Tensor other = Rng.normal(Shape.of(10), DType.F64, Device.CPU, 10, 0, 1.5, 2);
        assertFalse(Arrays.equals(other.toDoubleArray(), Arrays.copyOf(v, 10)));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // dropout

    /** x · keep / (1 − p) with keep(i) = Philox.uniform(seed, 0, offset + i) ≥ p, in float64. */
    private static double[] dropoutRef(double[] x, double p, long seed, long offset) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            boolean keep = Philox.uniform(seed, 0, offset + i) >= (float) p;
            y[i] = keep ? x[i] / (1 - p) : 0;
        }
        return y;
    }

    @Test
    void dropoutForwardAndBackwardUseTheRegeneratedMask() {
        SplittableRandom rnd = new SplittableRandom(1);
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (double p : new double[] {0.1, 0.5, 0.9}) {
                for (long offset : new long[] {0, 3, 1L << 32}) {
                    Tensor x = TestTensors.uniform(rnd, dtype, 0.5, 2, 7, 203); // nonzero: zeros mean dropped
                    long seed = 1234 + offset;
                    double tol = dtype == DType.F32 ? 1e-5 : 1e-12;
                    String what = "dropout " + dtype + " p=" + p + " offset=" + offset;
                    Tensor y = Rng.dropoutForward(x, p, seed, offset);
                    TestTensors.assertClose(what, Tensor.of(dropoutRef(x.toDoubleArray(), p, seed, offset), 7, 203), y,
                            tol, tol);
                    Tensor dy = TestTensors.uniform(rnd, dtype, 0.5, 2, 7, 203);
                    Tensor dx = Rng.dropoutBackward(dy, p, seed, offset);
                    TestTensors.assertClose(what + " backward", Tensor.of(dropoutRef(dy.toDoubleArray(), p, seed,
                            offset), 7, 203), dx, tol, tol);
                    double[] yv = y.toDoubleArray();
                    double[] dxv = dx.toDoubleArray();
                    for (int i = 0; i < yv.length; i++) {
                        assertEquals(yv[i] == 0, dxv[i] == 0, what + ": forward and backward masks differ at " + i);
                    }
                }
            }
        }
        // a transposed input drops by logical (row-major) position
        Tensor x = TestTensors.uniform(rnd, DType.F64, 0.5, 2, 9, 4);
        Tensor y = Rng.dropoutForward(x.transpose(0, 1), 0.3, 5, 0);
        TestTensors.assertClose("dropout of a transposed view", Tensor.of(dropoutRef(x.transpose(0, 1).contiguous()
                .toDoubleArray(), 0.3, 5, 0), 4, 9), y, 1e-12, 1e-12);
    }

    @Test
    void keptFractionIsOneMinusP() {
        float[] ones = new float[N];
        Arrays.fill(ones, 1f);
        Tensor x = Tensor.of(ones, N);
        for (double p : new double[] {0.1, 0.5, 0.8}) {
            double[] y = Rng.dropoutForward(x, p, 77, 0).toDoubleArray();
            int kept = 0;
            for (double v : y) {
                kept += v != 0 ? 1 : 0;
            }
            assertEquals((1 - p) * N, kept, 5 * Math.sqrt(N * p * (1 - p)), "kept count at p=" + p);
            assertEquals(1 / (1 - p), Arrays.stream(y).max().orElseThrow(), 1e-6, "survivor scale");
        }
    }

    @Test
    void zeroProbabilityIsTheIdentity() {
        Tensor x = TestTensors.uniform(new SplittableRandom(2), DType.F32, -3, 3, 113);
        assertArrayEquals(x.toFloatArray(), Rng.dropoutForward(x, 0, 1, 0).toFloatArray());
        assertArrayEquals(x.toFloatArray(), Rng.dropoutBackward(x, 0, 1, 0).toFloatArray());
    }

    @Test
    void badProbabilityIsRejected() {
        Tensor x = Tensor.zeros(Shape.of(3), DType.F32, Device.CPU);
        for (double p : new double[] {1, -0.1, 1.5, Double.NaN}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Rng.dropoutForward(x, p, 0, 0));
            assertTrue(e.getMessage().contains("[0, 1)") && e.getMessage().contains(String.valueOf(p)),
                    e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Rng.dropoutBackward(x, p, 0, 0));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Rng.dropoutForward(Tensor.of(new long[] {1}, 1), 0.5, 0, 0));
        assertTrue(e.getMessage().contains("I64"), e.getMessage());
    }
}
