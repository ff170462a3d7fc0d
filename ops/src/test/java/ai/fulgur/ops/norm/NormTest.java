package ai.fulgur.ops.norm;

import static ai.fulgur.ops.testing.PyTorch.assertMatches;
import static ai.fulgur.ops.testing.PyTorch.torch;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
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
 * {@link Norm} layer normalisation over one and two trailing axes, with gamma and beta, gamma alone, or neither: the
 * output against PyTorch's layer_norm, the saved mean and rstd against a float64 two-pass computation, and the three
 * gradients against PyTorch autograd (same dtype, and float64 for our F32). Without an affine part PyTorch is given
 * gamma = 1 and beta = 0, which changes nothing.
 *
 * <p>Tolerances: F32 against PyTorch's F32 1e-5 + 1e-4·|ref| (two float implementations with different summation
 * orders; normalised values are O(1)); F32 against a float64 reference 1e-6 + 1e-5·|ref|; F64 1e-11 absolute and
 * relative.
 */
class NormTest {
    private static final double EPS = 1e-5;

    private static NDManager manager;

    @BeforeAll
    static void open() {
        manager = PyTorch.manager();
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    /** (x shape, normalized shape) cases: one and two trailing axes, widths that are not multiples of 8. */
    private static final long[][][] CASES = {
        {{4, 7}, {7}},
        {{2, 3, 64}, {64}},
        {{2, 3, 64}, {3, 64}},
        {{1, 768}, {768}},
        {{5, 113}, {113}},
        {{3, 5, 11}, {5, 11}},
        {{6, 1}, {1}},
        {{203}, {203}},
    };

    private static double atol(DType t, boolean vsFloat) {
        return t == DType.F64 ? 1e-11 : vsFloat ? 1e-5 : 1e-6;
    }

    private static double rtol(DType t, boolean vsFloat) {
        return t == DType.F64 ? 1e-11 : vsFloat ? 1e-4 : 1e-5;
    }

    private static ai.djl.ndarray.types.Shape djlShape(Shape s) {
        return new ai.djl.ndarray.types.Shape(s.dims());
    }

    /** Per-row mean and 1/√(biased variance + eps) in float64, two passes. */
    private static double[][] statsRef(double[] x, int rows, int c) {
        double[] mean = new double[rows];
        double[] rstd = new double[rows];
        for (int r = 0; r < rows; r++) {
            double m = 0;
            for (int j = 0; j < c; j++) {
                m += x[r * c + j];
            }
            m /= c;
            double v = 0;
            for (int j = 0; j < c; j++) {
                v += (x[r * c + j] - m) * (x[r * c + j] - m);
            }
            mean[r] = m;
            rstd[r] = 1 / Math.sqrt(v / c + EPS);
        }
        return new double[][] {mean, rstd};
    }

    private static NDArray torchLayerNorm(Tensor x, Shape normalized, Tensor gamma, Tensor beta) {
        NDArray tx = torch(manager, x);
        NDArray g = gamma != null ? torch(manager, gamma) : manager.ones(djlShape(normalized), tx.getDataType());
        NDArray b = beta != null ? torch(manager, beta) : manager.zeros(djlShape(normalized), tx.getDataType());
        return tx.getNDArrayInternal().layerNorm(tx, djlShape(normalized), g, b, (float) EPS).singletonOrThrow();
    }

    @Test
    void forwardMatchesTorchAndFloat64Stats() {
        SplittableRandom rnd = new SplittableRandom(1);
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (long[][] c : CASES) {
                Shape xs = Shape.of(c[0]);
                Shape ns = Shape.of(c[1]);
                Tensor x = TestTensors.uniform(rnd, DType.F64, -2, 3, c[0]).cast(dtype);
                Tensor gamma = TestTensors.uniform(rnd, DType.F64, 0.5, 1.5, c[1]).cast(dtype);
                Tensor beta = TestTensors.uniform(rnd, DType.F64, -0.5, 0.5, c[1]).cast(dtype);
                for (int variant = 0; variant < 3; variant++) { // gamma and beta, neither, gamma alone
                    Tensor g = variant == 1 ? null : gamma;
                    Tensor b = variant == 0 ? beta : null;
                    String what = "layerNorm " + dtype + " x " + xs + " over " + ns
                            + (variant == 0 ? " affine" : variant == 2 ? " gamma only" : "");
                    Norm.LayerNormResult res = Norm.layerNormForward(x, ns, g, b, EPS);
                    assertMatches(what + " y vs PyTorch", torchLayerNorm(x, ns, g, b), res.y(), atol(dtype, true),
                            rtol(dtype, true));
                    // mean and rstd against float64 on the same (widened) inputs
                    int cols = (int) ns.numel();
                    int rows = (int) (xs.numel() / cols);
                    double[][] stats = statsRef(x.toDoubleArray(), rows, cols);
                    assertEquals(dtype, res.mean().dtype());
                    TestTensors.assertClose(what + " mean", Tensor.of(stats[0], rows), res.mean(), atol(dtype, false),
                            rtol(dtype, false));
                    TestTensors.assertClose(what + " rstd", Tensor.of(stats[1], rows), res.rstd(), atol(dtype, false),
                            rtol(dtype, false));
                }
            }
        }
    }

    @Test
    void forwardOfStridedInputs() {
        SplittableRandom rnd = new SplittableRandom(2);
        Tensor base = TestTensors.uniform(rnd, DType.F64, -2, 2, 64, 3, 2);
        Tensor x = base.permute(2, 1, 0); // (2, 3, 64), not contiguous
        Tensor gamma = TestTensors.uniform(rnd, DType.F64, 0.5, 1.5, 3, 64);
        Tensor beta = TestTensors.uniform(rnd, DType.F64, -1, 1, 64, 3).transpose(0, 1); // a strided beta too
        assertMatches("layerNorm of a permuted input", torchLayerNorm(x, Shape.of(3, 64), gamma, beta),
                Norm.layerNormForward(x, Shape.of(3, 64), gamma, beta, EPS).y(), 1e-11, 1e-11);
    }

    @Test
    void backwardMatchesTorchAutograd() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (long[][] c : CASES) {
                Shape ns = Shape.of(c[1]);
                if (dtype == DType.F32 && ns.numel() == 1) {
                    // one column: the exact dx is 0, PyTorch's F32 one is rounding noise times rstd = 1/√eps ≈ 316;
                    // backwardF32MatchesFloat64Autograd covers this case against float64
                    continue;
                }
                Tensor x = TestTensors.uniform(rnd, DType.F64, -2, 3, c[0]).cast(dtype);
                Tensor dy = TestTensors.uniform(rnd, DType.F64, -1, 1, c[0]).cast(dtype);
                Tensor gamma = TestTensors.uniform(rnd, DType.F64, 0.5, 1.5, c[1]).cast(dtype);
                Tensor beta = TestTensors.uniform(rnd, DType.F64, -0.5, 0.5, c[1]).cast(dtype);
                for (boolean affine : new boolean[] {true, false}) {
                    String what = "layerNorm backward " + dtype + " x " + x.shape() + " over " + ns
                            + (affine ? " affine" : "");
                    Norm.LayerNormResult res = Norm.layerNormForward(x, ns, affine ? gamma : null,
                            affine ? beta : null, EPS);
                    Tensor dyStrided = dy.transpose(0, -1).contiguous().transpose(0, -1); // same values, strided
                    Norm.LayerNormGrads grads = Norm.layerNormBackward(dyStrided, x, ns, res.mean(), res.rstd(),
                            affine ? gamma : null, affine);
                    NDArray tx = torch(manager, x);
                    NDArray tg = affine ? torch(manager, gamma) : manager.ones(djlShape(ns), tx.getDataType());
                    NDArray tb = affine ? torch(manager, beta) : manager.zeros(djlShape(ns), tx.getDataType());
                    try (GradientCollector gc = PyTorch.engine().newGradientCollector()) {
                        tx.setRequiresGradient(true);
                        tg.setRequiresGradient(true);
                        tb.setRequiresGradient(true);
                        NDArray y = tx.getNDArrayInternal().layerNorm(tx, djlShape(ns), tg, tb, (float) EPS)
                                .singletonOrThrow();
                        gc.backward(y.mul(torch(manager, dy)).sum());
                    }
                    assertMatches(what + " dx", tx.getGradient(), grads.dx(), atol(dtype, true), rtol(dtype, true));
                    if (affine) {
                        assertMatches(what + " dgamma", tg.getGradient(), grads.dgamma(), atol(dtype, true),
                                rtol(dtype, true));
                        assertMatches(what + " dbeta", tb.getGradient(), grads.dbeta(), atol(dtype, true),
                                rtol(dtype, true));
                    } else {
                        assertNull(grads.dgamma());
                        assertNull(grads.dbeta());
                    }
                }
            }
        }
    }

    @Test
    void backwardF32MatchesFloat64Autograd() {
        SplittableRandom rnd = new SplittableRandom(4);
        for (long[][] c : CASES) {
            Shape ns = Shape.of(c[1]);
            Tensor x64 = TestTensors.uniform(rnd, DType.F32, -2, 3, c[0]).cast(DType.F64); // F32-exact values
            Tensor dy64 = TestTensors.uniform(rnd, DType.F32, -1, 1, c[0]).cast(DType.F64);
            Tensor g64 = TestTensors.uniform(rnd, DType.F32, 0.5, 1.5, c[1]).cast(DType.F64);
            Tensor b64 = TestTensors.uniform(rnd, DType.F32, -0.5, 0.5, c[1]).cast(DType.F64);
            Tensor x = x64.cast(DType.F32);
            Tensor g = g64.cast(DType.F32);
            Norm.LayerNormResult res = Norm.layerNormForward(x, ns, g, b64.cast(DType.F32), EPS);
            Norm.LayerNormGrads grads = Norm.layerNormBackward(dy64.cast(DType.F32), x, ns, res.mean(), res.rstd(), g,
                    true);
            NDArray tx = torch(manager, x64);
            NDArray tg = torch(manager, g64);
            NDArray tb = torch(manager, b64);
            try (GradientCollector gc = PyTorch.engine().newGradientCollector()) {
                tx.setRequiresGradient(true);
                tg.setRequiresGradient(true);
                tb.setRequiresGradient(true);
                NDArray y = tx.getNDArrayInternal().layerNorm(tx, djlShape(ns), tg, tb, (float) EPS).singletonOrThrow();
                gc.backward(y.mul(torch(manager, dy64)).sum());
            }
            String what = "layerNorm backward F32 vs float64 autograd, x " + x.shape() + " over " + ns;
            assertMatches(what + " dx", tx.getGradient().toType(DataType.FLOAT32, false), grads.dx(), 1e-6, 1e-5);
            double rows = x.numel() / (double) ns.numel();
            double colTol = 1e-6 * Math.sqrt(rows); // column sums over the rows
            assertMatches(what + " dgamma", tg.getGradient().toType(DataType.FLOAT32, false), grads.dgamma(), colTol,
                    1e-5);
            assertMatches(what + " dbeta", tb.getGradient().toType(DataType.FLOAT32, false), grads.dbeta(), colTol,
                    1e-5);
        }
    }

    @Test
    void argumentErrorsNameTheShapes() {
        Tensor x = Tensor.zeros(Shape.of(2, 3, 4), DType.F32, Device.CPU);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Norm.layerNormForward(x, Shape.of(3), null, null, EPS));
        assertTrue(e.getMessage().contains("(3)") && e.getMessage().contains("(2, 3, 4)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Norm.layerNormForward(x, Shape.of(4),
                Tensor.zeros(Shape.of(5), DType.F32, Device.CPU), null, EPS));
        assertTrue(e.getMessage().contains("gamma") && e.getMessage().contains("(5)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Norm.layerNormForward(x, Shape.of(4), null,
                Tensor.zeros(Shape.of(4), DType.F64, Device.CPU), EPS));
        assertTrue(e.getMessage().contains("beta") && e.getMessage().contains("F64"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Norm.layerNormForward(x, Shape.of(4), null, null, 0));
        assertTrue(e.getMessage().contains("eps"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Norm.layerNormForward(
                Tensor.of(new long[] {1, 2}, 2), Shape.of(2), null, null, EPS));
        assertTrue(e.getMessage().contains("I64"), e.getMessage());
    }
}
