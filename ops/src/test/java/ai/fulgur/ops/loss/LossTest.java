package ai.fulgur.ops.loss;

import static ai.fulgur.ops.testing.PyTorch.assertMatches;
import static ai.fulgur.ops.testing.PyTorch.torch;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Loss} fused cross-entropy: per-row losses and the saved logsumexp against a float64 formula and PyTorch
 * (log_softmax, then the target's entry); dlogits against the float64 formula and PyTorch autograd. Rows whose target
 * is the ignore index get loss 0 and gradient 0. Targets I32 and I64, logits of rank 1 to 3.
 *
 * <p>Tolerances: F32 1e-6 + 1e-5·|ref|, F64 1e-12 + 1e-12·|ref|.
 */
class LossTest {
    private static final long IGNORE = -100;

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
        return t == DType.F32 ? 1e-6 : 1e-12;
    }

    private static double rtol(DType t) {
        return t == DType.F32 ? 1e-5 : 1e-12;
    }

    /** Logits shapes: (V), (R, V), (B, T, V), with V not a multiple of 8 and V = 1. */
    private static final long[][] SHAPES = {{113}, {5, 113}, {2, 3, 203}, {7, 1}, {4, 17}, {1, 768}};

    /** Random targets in [0, V), about one in four replaced by the ignore index. */
    private static Tensor targets(SplittableRandom rnd, long[] logitsShape, DType dtype) {
        long v = logitsShape[logitsShape.length - 1];
        long[] rowShape = Arrays.copyOf(logitsShape, logitsShape.length - 1);
        long[] t = TestTensors.indices(rnd, v, rowShape).toLongArray();
        for (int i = 0; i < t.length; i++) {
            if (rnd.nextInt(4) == 0) {
                t[i] = IGNORE;
            }
        }
        return Tensor.of(t, rowShape).cast(dtype);
    }

    /** losses[r] = logsumexp(x[r]) − x[r, t[r]] (0 when ignored) and lse[r], in float64. */
    private static double[][] lossRef(double[] x, long[] t, int v) {
        double[] loss = new double[t.length];
        double[] lse = new double[t.length];
        for (int r = 0; r < t.length; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) {
                max = Math.max(max, x[r * v + j]);
            }
            double s = 0;
            for (int j = 0; j < v; j++) {
                s += Math.exp(x[r * v + j] - max);
            }
            lse[r] = max + Math.log(s);
            loss[r] = t[r] == IGNORE ? 0 : lse[r] - x[r * v + (int) t[r]];
        }
        return new double[][] {loss, lse};
    }

    /** dlogits[r, j] = dloss[r] · (softmax(x[r])[j] − [j == t[r]]), 0 on ignored rows, in float64. */
    private static double[] gradRef(double[] x, long[] t, double[] dloss, int v) {
        double[] d = new double[x.length];
        double[] lse = lossRef(x, t, v)[1];
        for (int r = 0; r < t.length; r++) {
            if (t[r] == IGNORE) {
                continue;
            }
            for (int j = 0; j < v; j++) {
                d[r * v + j] = dloss[r] * (Math.exp(x[r * v + j] - lse[r]) - (j == t[r] ? 1 : 0));
            }
        }
        return d;
    }

    /** PyTorch's per-row loss: −log_softmax(x)[t] with ignored rows masked to 0 (their target read as class 0). */
    private static NDArray torchLoss(NDArray logits, long[] t, long[] rowShape) {
        long[] safe = new long[t.length];
        double[] keep = new double[t.length];
        for (int i = 0; i < t.length; i++) {
            safe[i] = t[i] == IGNORE ? 0 : t[i];
            keep[i] = t[i] == IGNORE ? 0 : 1;
        }
        int last = logits.getShape().dimension() - 1;
        NDArray index = logits.getManager().create(safe, new ai.djl.ndarray.types.Shape(rowShape)).expandDims(last);
        NDArray picked = logits.logSoftmax(last).gather(index, last).squeeze(last).neg();
        NDArray mask = logits.getManager().create(keep, new ai.djl.ndarray.types.Shape(rowShape))
                .toType(logits.getDataType(), false);
        return picked.mul(mask);
    }

    @Test
    void forwardMatchesFormulaAndTorch() {
        SplittableRandom rnd = new SplittableRandom(1);
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (DType targetType : new DType[] {DType.I64, DType.I32}) {
                for (long[] shape : SHAPES) {
                    int v = (int) shape[shape.length - 1];
                    Tensor logits = TestTensors.uniform(rnd, dtype, -6, 6, shape);
                    Tensor t = targets(rnd, shape, targetType);
                    String what = "crossEntropy " + dtype + " logits " + logits.shape() + " targets " + targetType;
                    Loss.CrossEntropyResult res = Loss.crossEntropyForward(logits, t, IGNORE);
                    assertArrayEquals(t.shape().dims(), res.losses().shape().dims(), what + " losses shape");
                    assertEquals(dtype, res.losses().dtype());
                    double[][] ref = lossRef(logits.toDoubleArray(), t.toLongArray(), v);
                    TestTensors.assertClose(what + " losses vs float64", Tensor.of(ref[0], t.shape().dims()),
                            res.losses(), atol(dtype), rtol(dtype));
                    TestTensors.assertClose(what + " lse vs float64", Tensor.of(ref[1], ref[1].length), res.lse(),
                            atol(dtype), rtol(dtype));
                    assertMatches(what + " vs PyTorch", torchLoss(torch(manager, logits), t.toLongArray(),
                            t.shape().dims()), res.losses(), atol(dtype), rtol(dtype));
                }
            }
        }
    }

    @Test
    void forwardWithLargeLogitsAndStridedInputs() {
        SplittableRandom rnd = new SplittableRandom(2);
        double[] x = {1e4, 0, -1e4, 5, 1e4 - 3, 2, 2, 2, 2, 2};
        long[] t = {2, 4};
        Tensor logits = Tensor.of(x, 2, 5);
        Loss.CrossEntropyResult res = Loss.crossEntropyForward(logits, Tensor.of(t, 2), IGNORE);
        double[][] ref = lossRef(x, t, 5);
        TestTensors.assertClose("crossEntropy with 1e4 logits", Tensor.of(ref[0], 2), res.losses(), 1e-12, 1e-12);
        assertEquals(Math.log(5), res.losses().toDoubleArray()[1], 1e-12, "uniform row");
        // a transposed logits view and a strided target view
        Tensor base = TestTensors.uniform(rnd, DType.F32, -3, 3, 113, 6);
        Tensor lt = base.transpose(0, 1); // (6, 113)
        Tensor tt = Tensor.of(new long[] {3, 0, 112, 5, 7, IGNORE, 9, 1, 0, 2, 50, 60}, 12).slice(0, 0, 12, 2);
        Loss.CrossEntropyResult rs = Loss.crossEntropyForward(lt, tt, IGNORE);
        double[][] rr = lossRef(lt.contiguous().toDoubleArray(), tt.toLongArray(), 113);
        TestTensors.assertClose("crossEntropy of strided views", Tensor.of(rr[0], 6), rs.losses(), 1e-6, 1e-5);
    }

    @Test
    void backwardMatchesFormulaAndTorchAutograd() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (DType targetType : new DType[] {DType.I64, DType.I32}) {
                for (long[] shape : SHAPES) {
                    int v = (int) shape[shape.length - 1];
                    Tensor logits = TestTensors.uniform(rnd, dtype, -6, 6, shape);
                    Tensor t = targets(rnd, shape, targetType);
                    Tensor dloss = TestTensors.uniform(rnd, dtype, -2, 2, t.shape().dims());
                    String what = "crossEntropy backward " + dtype + " logits " + logits.shape() + " targets "
                            + targetType;
                    Loss.CrossEntropyResult res = Loss.crossEntropyForward(logits, t, IGNORE);
                    Tensor d = Loss.crossEntropyBackward(dloss, logits, res.lse(), t, IGNORE);
                    assertArrayEquals(logits.shape().dims(), d.shape().dims(), what + " shape");
                    long[] tv = t.toLongArray();
                    TestTensors.assertClose(what + " vs float64", Tensor.of(gradRef(logits.toDoubleArray(), tv,
                            dloss.toDoubleArray(), v), shape), d, atol(dtype), rtol(dtype));
                    NDArray grad;
                    try (GradientCollector gc = PyTorch.engine().newGradientCollector()) {
                        NDArray tl = torch(manager, logits);
                        tl.setRequiresGradient(true);
                        NDArray losses = torchLoss(tl, tv, t.shape().dims());
                        gc.backward(losses.mul(torch(manager, dloss)).sum());
                        grad = tl.getGradient();
                    }
                    assertMatches(what + " vs PyTorch autograd", grad, d, atol(dtype), rtol(dtype));
                    // ignored rows: exactly zero gradient
                    double[] dv = d.toDoubleArray();
                    for (int r = 0; r < tv.length; r++) {
                        if (tv[r] == IGNORE) {
                            for (int j = 0; j < v; j++) {
                                assertEquals(0.0, dv[r * v + j], what + " ignored row " + r);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void ignoredRowsHaveZeroLossEvenWithOtherIgnoreIndices() {
        Tensor logits = TestTensors.uniform(new SplittableRandom(4), DType.F32, -1, 1, 3, 4);
        Tensor t = Tensor.of(new int[] {3, 3, 0}, 3);
        Loss.CrossEntropyResult res = Loss.crossEntropyForward(logits, t, 3); // class 3 doubles as the ignore index
        double[] l = res.losses().toDoubleArray();
        assertEquals(0.0, l[0]);
        assertEquals(0.0, l[1]);
        assertTrue(l[2] > 0);
        Tensor d = Loss.crossEntropyBackward(Tensor.of(new float[] {1, 1, 1}, 3), logits, res.lse(), t, 3);
        double[] dv = d.toDoubleArray();
        for (int j = 0; j < 8; j++) {
            assertEquals(0.0, dv[j]);
        }
    }

    @Test
    void badTargetsAreNamed() {
        Tensor logits = Tensor.zeros(Shape.of(2, 3, 10), DType.F32, Device.CPU);
        IndexOutOfBoundsException oob = assertThrows(IndexOutOfBoundsException.class, () -> Loss.crossEntropyForward(
                logits, Tensor.of(new long[] {0, 9, 1, 10, 2, 3}, 2, 3), IGNORE));
        assertTrue(oob.getMessage().contains("targets[3] = 10") && oob.getMessage().contains("[0, 10)")
                && oob.getMessage().contains("-100"), oob.getMessage());
        oob = assertThrows(IndexOutOfBoundsException.class, () -> Loss.crossEntropyForward(
                logits, Tensor.of(new int[] {0, -1, 1, 1, 2, 3}, 2, 3), IGNORE));
        assertTrue(oob.getMessage().contains("targets[1] = -1"), oob.getMessage());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Loss.crossEntropyForward(
                logits, Tensor.of(new long[] {0, 1, 2}, 3), IGNORE));
        assertTrue(e.getMessage().contains("(3)") && e.getMessage().contains("(2, 3)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Loss.crossEntropyForward(
                logits, Tensor.of(new float[6], 2, 3), IGNORE));
        assertTrue(e.getMessage().contains("F32") && e.getMessage().contains("cast"), e.getMessage());
    }
}
