package ai.fulgur.ops.activation;

import static ai.fulgur.ops.testing.PyTorch.assertMatches;
import static ai.fulgur.ops.testing.PyTorch.torch;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.testing.PyTorch;
import ai.fulgur.ops.testing.TestTensors;
import java.util.SplittableRandom;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Activation}: softmax and log-softmax forward and backward along any axis against a float64 formula and
 * PyTorch (forward, and backward through PyTorch autograd), including rows with −inf, all −inf and values of 1e4;
 * GELU in erf form against PyTorch's gelu (forward and autograd) and in tanh form against its float64 formula, with
 * both backward passes against float64 central differences of the float64 function.
 *
 * <p>Tolerances: F32 1e-6 + 1e-5·|ref|, F64 1e-12 + 1e-12·|ref| (1e-8 against central differences, whose own error is
 * about h² = 1e-10).
 */
class ActivationTest {
    private static final double F32_ATOL = 1e-6;
    private static final double F32_RTOL = 1e-5;
    private static final double F64_TOL = 1e-12;

    private static NDManager manager;

    @BeforeAll
    static void open() {
        manager = PyTorch.manager();
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private static double atol(DType t) {
        return t == DType.F32 ? F32_ATOL : F64_TOL;
    }

    private static double rtol(DType t) {
        return t == DType.F32 ? F32_RTOL : F64_TOL;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // softmax

    /** Softmax (or log-softmax) along {@code axis} of a row-major array, in float64, straight from the formula. */
    static double[] softmaxRef(double[] x, long[] shape, int axis, boolean log) {
        long n = shape[axis];
        long inner = 1;
        for (int i = axis + 1; i < shape.length; i++) {
            inner *= shape[i];
        }
        long outer = x.length / Math.max(1, n * inner);
        double[] y = new double[x.length];
        for (long o = 0; o < outer; o++) {
            for (long q = 0; q < inner; q++) {
                double max = Double.NEGATIVE_INFINITY;
                for (long j = 0; j < n; j++) {
                    max = Math.max(max, x[(int) ((o * n + j) * inner + q)]);
                }
                double sum = 0;
                for (long j = 0; j < n; j++) {
                    sum += Math.exp(x[(int) ((o * n + j) * inner + q)] - max);
                }
                for (long j = 0; j < n; j++) {
                    int i = (int) ((o * n + j) * inner + q);
                    y[i] = log ? x[i] - max - Math.log(sum) : Math.exp(x[i] - max) / sum;
                }
            }
        }
        return y;
    }

    /** dx of softmax (dx = y·(dy − Σ dy·y)) or log-softmax (dx = dy − exp(y)·Σ dy) along {@code axis}, in float64. */
    static double[] softmaxBackwardRef(double[] y, double[] dy, long[] shape, int axis, boolean log) {
        long n = shape[axis];
        long inner = 1;
        for (int i = axis + 1; i < shape.length; i++) {
            inner *= shape[i];
        }
        long outer = y.length / Math.max(1, n * inner);
        double[] dx = new double[y.length];
        for (long o = 0; o < outer; o++) {
            for (long q = 0; q < inner; q++) {
                double s = 0;
                for (long j = 0; j < n; j++) {
                    int i = (int) ((o * n + j) * inner + q);
                    s += log ? dy[i] : dy[i] * y[i];
                }
                for (long j = 0; j < n; j++) {
                    int i = (int) ((o * n + j) * inner + q);
                    dx[i] = log ? dy[i] - Math.exp(y[i]) * s : y[i] * (dy[i] - s);
                }
            }
        }
        return dx;
    }

    /** (shape, axis) cases: rows along the last axis, the first, a middle one, one element, a wide row. */
    private static final Object[][] SOFTMAX_CASES = {
        {new long[] {4, 7}, -1},
        {new long[] {4, 7}, 0},
        {new long[] {2, 3, 64}, 1},
        {new long[] {2, 3, 64}, 2},
        {new long[] {1, 768}, 1},
        {new long[] {5, 113}, -1},
        {new long[] {3, 1}, 1},
        {new long[] {203}, 0},
    };

    @Test
    void softmaxForwardMatchesFormulaAndTorch() {
        SplittableRandom rnd = new SplittableRandom(1);
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (Object[] c : SOFTMAX_CASES) {
                long[] shape = (long[]) c[0];
                int axis = (int) c[1];
                int a = axis < 0 ? axis + shape.length : axis;
                Tensor x = TestTensors.uniform(rnd, dtype, -8, 8, shape);
                for (boolean log : new boolean[] {false, true}) {
                    String what = (log ? "logSoftmax " : "softmax ") + dtype + " " + Shape.of(shape) + " axis " + axis;
                    Tensor y = Activation.softmaxForward(x, axis, log);
                    TestTensors.assertClose(what + " vs float64 formula", Tensor.of(softmaxRef(x.toDoubleArray(),
                            shape, a, log), shape), y, atol(dtype), rtol(dtype));
                    NDArray t = torch(manager, x);
                    assertMatches(what + " vs PyTorch", log ? t.logSoftmax(a) : t.softmax(a), y, atol(dtype),
                            rtol(dtype));
                }
            }
        }
    }

    @Test
    void softmaxOfStridedInputs() {
        SplittableRandom rnd = new SplittableRandom(2);
        Tensor base = TestTensors.uniform(rnd, DType.F32, -5, 5, 6, 9, 11);
        NDArray tb = torch(manager, base);
        Tensor x = base.transpose(0, 2).slice(1, 1, -1, 2); // (11, 4, 6)
        NDArray tx = tb.transpose(2, 1, 0).get(":, 1:-1:2, :");
        for (int axis = 0; axis < 3; axis++) {
            for (boolean log : new boolean[] {false, true}) {
                assertMatches("softmax of a strided view, axis " + axis + " log=" + log,
                        log ? tx.logSoftmax(axis) : tx.softmax(axis), Activation.softmaxForward(x, axis, log),
                        F32_ATOL, F32_RTOL);
            }
        }
    }

    @Test
    void softmaxRowsWithInfinitiesAndLargeValues() {
        double inf = Double.POSITIVE_INFINITY;
        double[] rows = {
            1e4, 1e4 - 1, -inf, 0, 3,
            -inf, -inf, -inf, -inf, -inf, // all −inf: NaN, as in PyTorch
            1e4, -1e4, 1e4, 1e4 - 20, -inf,
            -1e4, -1e4, -1e4, -1e4, -1e4 + 2,
            0, 0, 0, 0, 0,
        };
        long[] shape = {5, 5};
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            Tensor x = Tensor.of(rows, shape).cast(dtype);
            for (boolean log : new boolean[] {false, true}) {
                String what = (log ? "logSoftmax " : "softmax ") + dtype + " with infinities";
                Tensor y = Activation.softmaxForward(x, 1, log);
                TestTensors.assertClose(what + " vs float64 formula", Tensor.of(softmaxRef(rows, shape, 1, log),
                        shape), y, atol(dtype), rtol(dtype));
                NDArray t = torch(manager, x);
                assertMatches(what + " vs PyTorch", log ? t.logSoftmax(1) : t.softmax(1), y, atol(dtype), rtol(dtype));
                // and along the other axis (columns mixing 1e4, −inf and 0)
                Tensor y0 = Activation.softmaxForward(x, 0, log);
                assertMatches(what + " axis 0 vs PyTorch", log ? t.logSoftmax(0) : t.softmax(0), y0, atol(dtype),
                        rtol(dtype));
            }
        }
    }

    @Test
    void softmaxBackwardMatchesFormulaAndTorchAutograd() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (Object[] c : SOFTMAX_CASES) {
                long[] shape = (long[]) c[0];
                int axis = (int) c[1];
                int a = axis < 0 ? axis + shape.length : axis;
                Tensor x = TestTensors.uniform(rnd, dtype, -4, 4, shape);
                Tensor dy = TestTensors.uniform(rnd, dtype, -1, 1, shape);
                for (boolean log : new boolean[] {false, true}) {
                    String what = (log ? "logSoftmax" : "softmax") + " backward " + dtype + " " + Shape.of(shape)
                            + " axis " + axis;
                    Tensor y = Activation.softmaxForward(x, axis, log);
                    Tensor dx = Activation.softmaxBackward(y, dy, axis, log);
                    TestTensors.assertClose(what + " vs float64 formula", Tensor.of(softmaxBackwardRef(
                            y.toDoubleArray(), dy.toDoubleArray(), shape, a, log), shape), dx, atol(dtype),
                            rtol(dtype));
                    NDArray grad;
                    try (GradientCollector gc = PyTorch.engine().newGradientCollector()) {
                        NDArray tx = torch(manager, x);
                        tx.setRequiresGradient(true);
                        NDArray ty = log ? tx.logSoftmax(a) : tx.softmax(a);
                        gc.backward(ty.mul(torch(manager, dy)).sum());
                        grad = tx.getGradient();
                    }
                    assertMatches(what + " vs PyTorch autograd", grad, dx, atol(dtype), rtol(dtype));
                }
            }
        }
        // a strided dy
        Tensor x = TestTensors.uniform(rnd, DType.F64, -4, 4, 7, 5);
        Tensor dy = TestTensors.uniform(rnd, DType.F64, -1, 1, 5, 7).transpose(0, 1);
        Tensor y = Activation.softmaxForward(x, 1, false);
        TestTensors.assertClose("softmax backward with a transposed dy", Tensor.of(softmaxBackwardRef(
                y.toDoubleArray(), dy.toDoubleArray(), new long[] {7, 5}, 1, false), 7, 5),
                Activation.softmaxBackward(y, dy, 1, false), F64_TOL, F64_TOL);
    }

    @Test
    void softmaxArgumentErrors() {
        Tensor ints = Tensor.of(new long[] {1, 2}, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Activation.softmaxForward(ints, 0, false));
        assertTrue(e.getMessage().contains("softmax") && e.getMessage().contains("I64"), e.getMessage());
        Tensor x = Tensor.zeros(Shape.of(2, 3), DType.F32, Device.CPU);
        e = assertThrows(IllegalArgumentException.class, () -> Activation.softmaxForward(x, 2, true));
        assertTrue(e.getMessage().contains("axis 2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Activation.softmaxBackward(x, Tensor.zeros(Shape.of(3, 2), DType.F32, Device.CPU), 1, false));
        assertTrue(e.getMessage().contains("(2, 3)") && e.getMessage().contains("(3, 2)"), e.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // GELU

    private static final double SQRT_2_OVER_PI = 0.7978845608028654; // √(2/π)

    /** 0.5·x·(1 + tanh(√(2/π)(x + 0.044715·x³))), in float64. */
    static double geluTanh(double x) {
        return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    }

    /** Inputs over [−6, 6] plus the points where GELU bends: 0, ±1e-3, ±0.5, ±3. */
    private static double[] geluInputs(SplittableRandom rnd, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = -6 + 12 * rnd.nextDouble();
        }
        double[] fixed = {0, 1e-3, -1e-3, 0.5, -0.5, 3, -3, 6, -6, 1e-7};
        System.arraycopy(fixed, 0, v, 0, Math.min(n, fixed.length));
        return v;
    }

    private static NDArray torchGelu(NDArray x) {
        return x.getNDArrayInternal().gelu(); // the erf form in PyTorch's engine
    }

    @Test
    void geluErfMatchesTorch() {
        SplittableRandom rnd = new SplittableRandom(4);
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (long[] shape : new long[][] {{113}, {7, 203}, {1}}) {
                Tensor x = Tensor.of(geluInputs(rnd, (int) Shape.of(shape).numel()), shape).cast(dtype);
                assertMatches("gelu erf " + dtype + " " + x.shape(), torchGelu(torch(manager, x)),
                        Activation.geluForward(x, GeluForm.ERF), atol(dtype), rtol(dtype));
            }
            Tensor base = Tensor.of(geluInputs(rnd, 9 * 31), 9, 31).cast(dtype);
            assertMatches("gelu erf " + dtype + " strided", torchGelu(torch(manager, base).get("1:-1:3, :")
                    .transpose(1, 0)), Activation.geluForward(base.slice(0, 1, -1, 3).transpose(0, 1), GeluForm.ERF),
                    atol(dtype), rtol(dtype));
        }
    }

    @Test
    void geluTanhMatchesFormula() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            Tensor x = Tensor.of(geluInputs(rnd, 7 * 203), 7, 203).cast(dtype);
            double[] xv = x.toDoubleArray();
            double[] want = new double[xv.length];
            for (int i = 0; i < xv.length; i++) {
                want[i] = geluTanh(xv[i]);
            }
            TestTensors.assertClose("gelu tanh " + dtype, Tensor.of(want, 7, 203), Activation.geluForward(x,
                    GeluForm.TANH), atol(dtype), rtol(dtype));
            Tensor xt = x.transpose(0, 1);
            TestTensors.assertClose("gelu tanh " + dtype + " transposed", Tensor.of(want, 7, 203).transpose(0, 1),
                    Activation.geluForward(xt, GeluForm.TANH), atol(dtype), rtol(dtype));
        }
    }

    /** Central differences (f(x + h) − f(x − h)) / 2h, in float64, times dy. */
    private static double[] centralDifference(DoubleUnaryOperator f, double[] x, double[] dy) {
        double h = 1e-5;
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = dy[i] * (f.applyAsDouble(x[i] + h) - f.applyAsDouble(x[i] - h)) / (2 * h);
        }
        return d;
    }

    @Test
    void geluTanhBackwardMatchesCentralDifferences() {
        SplittableRandom rnd = new SplittableRandom(6);
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            Tensor x = Tensor.of(geluInputs(rnd, 5 * 113), 5, 113).cast(dtype);
            Tensor dy = TestTensors.uniform(rnd, dtype, -2, 2, 5, 113);
            double[] want = centralDifference(ActivationTest::geluTanh, x.toDoubleArray(), dy.toDoubleArray());
            double tol = dtype == DType.F32 ? F32_RTOL : 1e-8;
            TestTensors.assertClose("gelu tanh backward " + dtype, Tensor.of(want, 5, 113),
                    Activation.geluBackward(x, dy, GeluForm.TANH), dtype == DType.F32 ? F32_ATOL : 1e-8, tol);
        }
    }

    @Test
    void geluErfBackwardMatchesCentralDifferencesAndTorchAutograd() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            Tensor x = Tensor.of(geluInputs(rnd, 5 * 113), 5, 113).cast(dtype);
            Tensor dy = TestTensors.uniform(rnd, dtype, -2, 2, 5, 113);
            Tensor dx = Activation.geluBackward(x, dy, GeluForm.ERF);
            // central differences of PyTorch's float64 gelu (the float64 erf formula)
            double h = 1e-5;
            NDArray x64 = torch(manager, x.cast(DType.F64));
            double[] plus = torchGelu(x64.add(h)).toDoubleArray();
            double[] minus = torchGelu(x64.sub(h)).toDoubleArray();
            double[] g = dy.toDoubleArray();
            double[] want = new double[plus.length];
            for (int i = 0; i < want.length; i++) {
                want[i] = g[i] * (plus[i] - minus[i]) / (2 * h);
            }
            double tol = dtype == DType.F32 ? F32_RTOL : 1e-8;
            TestTensors.assertClose("gelu erf backward " + dtype + " vs central differences", Tensor.of(want, 5, 113),
                    dx, dtype == DType.F32 ? F32_ATOL : 1e-8, tol);
            NDArray grad;
            try (GradientCollector gc = PyTorch.engine().newGradientCollector()) {
                NDArray tx = torch(manager, x);
                tx.setRequiresGradient(true);
                gc.backward(torchGelu(tx).mul(torch(manager, dy)).sum());
                grad = tx.getGradient();
            }
            assertMatches("gelu erf backward " + dtype + " vs PyTorch autograd", grad, dx, atol(dtype), rtol(dtype));
        }
    }

    @Test
    void geluArgumentErrors() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Activation.geluForward(Tensor.of(new int[] {1}, 1), GeluForm.ERF));
        assertTrue(e.getMessage().contains("gelu") && e.getMessage().contains("I32"), e.getMessage());
        Tensor x = Tensor.zeros(Shape.of(4), DType.F32, Device.CPU);
        e = assertThrows(IllegalArgumentException.class,
                () -> Activation.geluBackward(x, Tensor.zeros(Shape.of(4), DType.F64, Device.CPU), GeluForm.TANH));
        assertTrue(e.getMessage().contains("F32") && e.getMessage().contains("F64"), e.getMessage());
        assertEquals(0.0, Activation.geluForward(x, GeluForm.TANH).toDoubleArray()[0]);
    }
}
