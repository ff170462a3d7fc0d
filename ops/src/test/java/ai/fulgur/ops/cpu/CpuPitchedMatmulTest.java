package ai.fulgur.ops.cpu;

import static ai.fulgur.ops.testing.PitchedTensors.buffer;
import static ai.fulgur.ops.testing.PitchedTensors.padsChanged;
import static ai.fulgur.ops.testing.PitchedTensors.pitched;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.RowPitched;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.linalg.Linalg;
import ai.fulgur.ops.linalg.LinearEpilogue;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The CPU kernels on row-pitched operands (rows padded past their length, as a vocabulary head's logits are on CUDA):
 * {@link CpuMatmul} with pitched a, b and out in every transpose combination, with and without accumulation, and
 * {@link CpuLinear} into a pitched out, against a float64 triple loop over the logical values. The inputs' pads hold
 * NaN (a kernel that reads them as data fails) and the output's a sentinel that must survive.
 */
class CpuPitchedMatmulTest {
    private static final CpuMatmul KERNEL = new CpuMatmul();
    private static final double SENTINEL = 96; // exact in every floating dtype

    private static Tensor random(SplittableRandom rnd, DType dtype, long... shape) {
        double[] v = new double[Math.toIntExact(Shape.of(shape).numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = rnd.nextDouble(-1, 1);
        }
        return Tensor.of(v, shape).cast(dtype);
    }

    @Test
    void pitchedOperandsMatchDoubleLoop() {
        SplittableRandom rnd = new SplittableRandom(5);
        long m = 13;
        long n = 21;
        long k = 11;
        for (DType dtype : new DType[] {DType.F32, DType.F64, DType.BF16}) {
            double tol = dtype == DType.BF16 ? 1e-2 : dtype == DType.F32 ? 1e-5 : 1e-12;
            for (boolean transA : new boolean[] {false, true}) {
                for (boolean transB : new boolean[] {false, true}) {
                    for (boolean accumulate : new boolean[] {false, true}) {
                        String what = dtype + " tA=" + transA + " tB=" + transB + " acc=" + accumulate;
                        Tensor a = random(rnd, dtype, 1, transA ? k : m, transA ? m : k);
                        Tensor b = random(rnd, dtype, 1, transB ? n : k, transB ? k : n);
                        Tensor c = random(rnd, dtype, 1, m, n);
                        double[] want = reference(c, a, b, transA, transB, 0.5, accumulate);
                        long pa = a.shape().dim(2) + 5;
                        long pb = b.shape().dim(2) + 3;
                        long pc = n + 7;
                        Tensor ap = pitched(a, pa, Double.NaN);
                        Tensor bp = pitched(b, pb, Double.NaN);
                        Tensor cp = pitched(c, pc, SENTINEL);
                        KERNEL.matmul(cp, ap, bp, transA, transB, 0.5, accumulate);
                        compare(what, want, cp.contiguous().toDoubleArray(), tol);
                        assertEquals(0, padsChanged(buffer(cp, pc), n, SENTINEL), what + ": out's pad written");
                    }
                }
            }
        }
    }

    @Test
    void naiveReferenceTakesPitchedOperands() {
        SplittableRandom rnd = new SplittableRandom(6);
        for (boolean transA : new boolean[] {false, true}) {
            Tensor a = random(rnd, DType.F64, 1, transA ? 4 : 6, transA ? 6 : 4);
            Tensor b = random(rnd, DType.F64, 1, 4, 5);
            Tensor c = random(rnd, DType.F64, 1, 6, 5);
            double[] want = reference(c, a, b, transA, false, 1, true);
            Tensor cp = pitched(c, 9, SENTINEL);
            CpuMatmul.matmulNaive(cp, pitched(a, a.shape().dim(2) + 2, Double.NaN), pitched(b, 8, Double.NaN),
                    transA, false, 1, true);
            compare("naive tA=" + transA, want, cp.contiguous().toDoubleArray(), 1e-12);
            assertEquals(0, padsChanged(buffer(cp, 9), 5, SENTINEL));
        }
    }

    @Test
    void linearIntoPitchedOutput() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
            for (LinearEpilogue epilogue : new LinearEpilogue[] {LinearEpilogue.NONE, LinearEpilogue.BIAS}) {
                long m = 9;
                long n = 13;
                long k = 6;
                Tensor x = random(rnd, dtype, m, k);
                Tensor w = random(rnd, dtype, n, k);
                Tensor bias = epilogue.hasBias() ? random(rnd, dtype, n) : null;
                Tensor contiguous = Tensor.zeros(Shape.of(m, n), dtype, Device.CPU);
                KERNEL.linear(contiguous, x, w, bias, epilogue, null);
                Tensor out = pitched(Tensor.zeros(Shape.of(m, n), dtype, Device.CPU), 16, SENTINEL);
                KERNEL.linear(out, x, w, bias, epilogue, null);
                String what = "linear " + dtype + " " + epilogue;
                compare(what, contiguous.toDoubleArray(), out.contiguous().toDoubleArray(), 0);
                assertEquals(0, padsChanged(buffer(out, 16), n, SENTINEL), what + ": pad written");
                // the facade writes into a pitched out and keeps it
                Tensor viaFacade = pitched(Tensor.zeros(Shape.of(m, n), dtype, Device.CPU), 16, SENTINEL);
                Linalg.linearInto(viaFacade, x, w, bias, epilogue, null);
                compare(what + " facade", contiguous.toDoubleArray(), viaFacade.contiguous().toDoubleArray(), 0);
            }
        }
    }

    @Test
    void facadeTakesPitchedAndTransposedPitchedOperands() {
        SplittableRandom rnd = new SplittableRandom(8);
        // g (R, V) pitched as a logits gradient is; g · W and gᵀ · x, the head's two backward products
        long r = 10;
        long v = 19;
        long c = 6;
        Tensor g = random(rnd, DType.F32, r, v);
        Tensor w = random(rnd, DType.F32, v, c);
        Tensor x = random(rnd, DType.F32, r, c);
        Tensor gp = RowPitched.rowsView(pitched(g, 24, Double.NaN));
        compare("g · W", Linalg.matmul(g, w).toDoubleArray(), Linalg.matmul(gp, w).toDoubleArray(), 1e-6);
        compare("gᵀ · x", Linalg.matmul(g.transpose(0, 1), x).toDoubleArray(),
                Linalg.matmul(gp.transpose(0, 1), x).toDoubleArray(), 1e-6);
    }

    /** out (1, M, N) = alpha · op(a) · op(b) (+ out), in double over the logical elements. */
    private static double[] reference(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, double alpha,
            boolean accumulate) {
        int m = Math.toIntExact(out.shape().dim(1));
        int n = Math.toIntExact(out.shape().dim(2));
        int k = Math.toIntExact(transA ? a.shape().dim(1) : a.shape().dim(2));
        double[] av = a.toDoubleArray();
        double[] bv = b.toDoubleArray();
        double[] cv = out.toDoubleArray();
        double[] r = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    s += (transA ? av[p * m + i] : av[i * k + p]) * (transB ? bv[j * k + p] : bv[p * n + j]);
                }
                r[i * n + j] = alpha * s + (accumulate ? cv[i * n + j] : 0);
            }
        }
        return r;
    }

    private static void compare(String what, double[] want, double[] got, double tol) {
        assertEquals(want.length, got.length, what + ": element count");
        for (int i = 0; i < want.length; i++) {
            if (!(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])))) {
                throw new AssertionError(what + ": mismatch at " + i + ": want " + want[i] + ", got " + got[i]
                        + " (tolerance " + tol + "·(1 + |want|))");
            }
        }
    }
}
