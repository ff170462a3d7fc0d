package ai.fulgur.ops.optim;

import static ai.fulgur.ops.testing.PyTorch.assertMatches;
import static ai.fulgur.ops.testing.PyTorch.torch;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.testing.PyTorch;
import ai.fulgur.ops.testing.TestTensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Optim}: Adam and AdamW over several steps against a float64 re-implementation of {@code torch.optim.Adam} /
 * {@code AdamW} (with rescaling and clipping added), and against DJL's PyTorch-engine {@code adamUpdate} (which folds
 * the bias corrections into the learning rate); SGD with and without momentum against float64
 * ({@code torch.optim.SGD} with dampening 0, plus rescaling, clipping and weight decay).
 *
 * <p>F32 references round the stored w, m, v to float after each step, as the tensors do. Tolerances: F32 1e-6 +
 * 1e-5·|ref|, F64 1e-12 + 1e-12·|ref|.
 */
class OptimTest {
    private static NDManager manager;

    @BeforeAll
    static void open() {
        manager = PyTorch.manager();
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private static final long[][] SHAPES = {{113}, {7, 203}, {1}, {3, 5, 11}};

    private static double atol(DType t) {
        return t == DType.F32 ? 1e-6 : 1e-12;
    }

    private static double rtol(DType t) {
        return t == DType.F32 ? 1e-5 : 1e-12;
    }

    private static double store(double v, DType t) {
        return t == DType.F32 ? (float) v : v;
    }

    /**
     * T steps of PyTorch's Adam (L2 weight decay in the gradient) or AdamW (decoupled: w ·= 1 − lr·wd), in float64,
     * on w, m, v in place; grads[t] is step t + 1's gradient. g = clamp(rescale · grad, ±clip) first when clip ≥ 0.
     */
    private static void adamRef(double[] w, double[] m, double[] v, double[][] grads, double lr, double b1, double b2,
            double eps, double wd, boolean decoupled, double rescale, double clip, DType t) {
        for (int step = 1; step <= grads.length; step++) {
            double bc1 = 1 - Math.pow(b1, step);
            double bc2 = 1 - Math.pow(b2, step);
            for (int i = 0; i < w.length; i++) {
                double g = grads[step - 1][i] * rescale;
                if (clip >= 0) {
                    g = Math.min(clip, Math.max(-clip, g));
                }
                if (!decoupled) {
                    g += wd * w[i];
                }
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                double wi = decoupled ? w[i] * (1 - lr * wd) : w[i];
                double denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + eps;
                w[i] = store(wi - lr / bc1 * m[i] / denom, t);
                m[i] = store(m[i], t);
                v[i] = store(v[i], t);
            }
        }
    }

    @Test
    void adamMatchesTorchFormulasOverSeveralSteps() {
        SplittableRandom rnd = new SplittableRandom(1);
        double lr = 1e-2;
        double b1 = 0.9;
        double b2 = 0.999;
        double eps = 1e-8;
        double[][] variants = { // weight decay, decoupled (1/0), rescale, clip
            {0, 0, 1, -1}, {0.1, 0, 1, -1}, {0.1, 1, 1, -1}, {0.01, 1, 0.5, 0.3}, {0.05, 0, 2, 0.8},
        };
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (long[] shape : SHAPES) {
                for (double[] var : variants) {
                    boolean decoupled = var[1] != 0;
                    Tensor w = TestTensors.uniform(rnd, dtype, -1, 1, shape);
                    Tensor m = Tensor.zeros(Shape.of(shape), dtype, Device.CPU);
                    Tensor v = Tensor.zeros(Shape.of(shape), dtype, Device.CPU);
                    double[] rw = w.toDoubleArray();
                    double[] rm = new double[rw.length];
                    double[] rv = new double[rw.length];
                    int steps = 5;
                    double[][] grads = new double[steps][];
                    for (int t = 1; t <= steps; t++) {
                        Tensor g = TestTensors.uniform(rnd, dtype, -1, 1, shape);
                        grads[t - 1] = g.toDoubleArray();
                        AdamParams p = AdamParams.torch(lr, b1, b2, eps, var[0], decoupled, t);
                        if (var[2] != 1 || var[3] >= 0) {
                            p = new AdamParams(lr, b1, b2, eps, var[0], decoupled, p.bc1(), p.bc2(), var[2], var[3]);
                        }
                        Tensor gStrided = g.transpose(0, -1).contiguous().transpose(0, -1); // same values, strided
                        Optim.adamUpdate(w, t % 2 == 0 ? gStrided : g, m, v, p);
                    }
                    adamRef(rw, rm, rv, grads, lr, b1, b2, eps, var[0], decoupled, var[2], var[3], dtype);
                    String what = (decoupled ? "AdamW " : "Adam ") + dtype + " " + Shape.of(shape) + " wd=" + var[0]
                            + " rescale=" + var[2] + " clip=" + var[3] + " after " + steps + " steps";
                    TestTensors.assertClose(what + " w", Tensor.of(rw, shape), w, atol(dtype), rtol(dtype));
                    TestTensors.assertClose(what + " m", Tensor.of(rm, shape), m, atol(dtype), rtol(dtype));
                    TestTensors.assertClose(what + " v", Tensor.of(rv, shape), v, atol(dtype), rtol(dtype));
                }
            }
        }
    }

    /**
     * DJL's PyTorch engine: w −= lrBiasCorrection · m / (√v + eps) with lrBiasCorrection = lr·√(1 − β2^t)/(1 − β1^t),
     * and AdamW's decay w −= lr·wd·w with the plain lr. Our kernel takes that as AdamParams(lrBiasCorrection, ...,
     * bc1 = bc2 = 1), with the decoupled decay rescaled to wd·lr/lrBiasCorrection so that lr·wd matches. DJL clamps
     * the gradient from above only, so clipping is off (clipGrad &lt; 0) here.
     */
    @Test
    void adamMatchesDjlPyTorchEngine() {
        SplittableRandom rnd = new SplittableRandom(2);
        float lr = 3e-3f;
        float b1 = 0.9f;
        float b2 = 0.99f;
        float eps = 1e-6f;
        for (boolean adamw : new boolean[] {false, true}) {
            for (float wd : new float[] {0f, 0.05f}) {
                for (float rescale : new float[] {1f, 0.25f}) {
                    Tensor w = TestTensors.uniform(rnd, DType.F32, -1, 1, 7, 203);
                    Tensor m = Tensor.zeros(w.shape(), DType.F32, Device.CPU);
                    Tensor v = Tensor.zeros(w.shape(), DType.F32, Device.CPU);
                    NDArray tw = torch(manager, w);
                    NDArray tm = torch(manager, m);
                    NDArray tv = torch(manager, v);
                    for (int t = 1; t <= 4; t++) {
                        Tensor g = TestTensors.uniform(rnd, DType.F32, -1, 1, 7, 203);
                        float lrbc = (float) (lr * Math.sqrt(1 - Math.pow(b2, t)) / (1 - Math.pow(b1, t)));
                        tw.getNDArrayInternal().adamUpdate(new NDList(tw, torch(manager, g), tm, tv), new NDList(tw),
                                lr, lrbc, wd, rescale, -1f, b1, b2, eps, false, adamw);
                        double ourWd = adamw ? (double) wd * lr / lrbc : wd;
                        Optim.adamUpdate(w, g, m, v, new AdamParams(lrbc, b1, b2, eps, ourWd, adamw, 1, 1, rescale,
                                -1));
                    }
                    String what = "adamUpdate vs DJL PyTorch engine adamw=" + adamw + " wd=" + wd + " rescale="
                            + rescale;
                    assertMatches(what + " w", tw, w, 1e-6, 1e-5);
                    assertMatches(what + " m", tm, m, 1e-6, 1e-5);
                    assertMatches(what + " v", tv, v, 1e-7, 1e-5);
                }
            }
        }
    }

    /** T steps of SGD in float64: g = clamp(rescale·grad, ±clip) + wd·w; buf = μ·buf + g; w −= lr·(μ ≠ 0 ? buf : g). */
    private static void sgdRef(double[] w, double[] buf, double[][] grads, double lr, double wd, double momentum,
            double rescale, double clip, DType t) {
        for (double[] grad : grads) {
            for (int i = 0; i < w.length; i++) {
                double g = grad[i] * rescale;
                if (clip >= 0) {
                    g = Math.min(clip, Math.max(-clip, g));
                }
                g += wd * w[i];
                if (momentum != 0) {
                    buf[i] = store(momentum * buf[i] + g, t);
                    g = buf[i];
                }
                w[i] = store(w[i] - lr * g, t);
            }
        }
    }

    @Test
    void sgdMatchesFloat64WithAndWithoutMomentum() {
        SplittableRandom rnd = new SplittableRandom(3);
        double[][] variants = { // lr, weight decay, momentum, rescale, clip
            {0.1, 0, 0, 1, -1}, {0.05, 1e-2, 0, 1, -1}, {0.1, 0, 0.9, 1, -1}, {0.02, 1e-3, 0.8, 0.5, 0.2},
            {0.3, 0, 0, 2, 0.5},
        };
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (long[] shape : SHAPES) {
                for (double[] var : variants) {
                    Tensor w = TestTensors.uniform(rnd, dtype, -1, 1, shape);
                    Tensor state = var[2] != 0 ? Tensor.zeros(Shape.of(shape), dtype, Device.CPU) : null;
                    double[] rw = w.toDoubleArray();
                    double[] rb = new double[rw.length];
                    double[][] grads = new double[4][];
                    for (int t = 0; t < 4; t++) {
                        Tensor g = TestTensors.uniform(rnd, dtype, -1, 1, shape);
                        grads[t] = g.toDoubleArray();
                        Optim.sgdUpdate(w, g, state, var[0], var[1], var[2], var[3], var[4]);
                    }
                    sgdRef(rw, rb, grads, var[0], var[1], var[2], var[3], var[4], dtype);
                    String what = "SGD " + dtype + " " + Shape.of(shape) + " lr=" + var[0] + " wd=" + var[1]
                            + " momentum=" + var[2] + " rescale=" + var[3] + " clip=" + var[4];
                    TestTensors.assertClose(what + " w", Tensor.of(rw, shape), w, atol(dtype), rtol(dtype));
                    if (state != null) {
                        TestTensors.assertClose(what + " momentum", Tensor.of(rb, shape), state, atol(dtype),
                                rtol(dtype));
                    }
                }
            }
        }
    }

    @Test
    void badArgumentsAreNamed() {
        Tensor w = Tensor.zeros(Shape.of(4, 3), DType.F32, Device.CPU);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Optim.sgdUpdate(w, w, null, 0.1, 0, 0.9, 1, -1));
        assertTrue(e.getMessage().contains("momentum") && e.getMessage().contains("state"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Optim.sgdUpdate(w.transpose(0, 1),
                Tensor.zeros(Shape.of(3, 4), DType.F32, Device.CPU), null, 0.1, 0, 0, 1, -1));
        assertTrue(e.getMessage().contains("contiguous"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Optim.adamUpdate(w,
                Tensor.zeros(Shape.of(12), DType.F32, Device.CPU), w, w, AdamParams.torch(1e-3, 0.9, 0.999, 1e-8, 0,
                        true, 1)));
        assertTrue(e.getMessage().contains("(4, 3)") && e.getMessage().contains("(12)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> AdamParams.torch(1e-3, 1.0, 0.999, 1e-8, 0, true, 1));
        assertTrue(e.getMessage().contains("beta1=1.0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new AdamParams(1e-3, 0.9, 0.999, 1e-8, 0, true, 0, 1, 1,
                -1));
        assertTrue(e.getMessage().contains("bc1=0.0"), e.getMessage());
    }
}
