package ai.fulgur.ops.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.linalg.Linalg;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link CpuMatmul} against a float64 triple loop written here from the tensors' own strides, over sizes that do not
 * divide the tiles (MR = 6, NR = 32 or 16, KC = 256, MC up to 144, NC = 2048), every transpose combination, batches,
 * shared (stride 0) operands, alpha, accumulation and offsets; then the {@link Linalg#matmul} facade's shape rules.
 *
 * <p>Tolerances are relative to the magnitude |alpha| · Σ|a||b| (+ |out| when accumulating) of each element: 1e-5 for
 * F32 (accumulated in F32), 1e-12 for F64, 1e-2 for BF16 and F16 (one rounding of the result).
 */
class CpuMatmulTest {
    private static final CpuMatmul KERNEL = new CpuMatmul();

    /** (batch, M, N, K) of op(a) (M, K) · op(b) (K, N). */
    private static final int[][] SHAPES = {
        {1, 1, 1, 1},
        {1, 113, 203, 67},
        {1, 113, 67, 203},
        {1, 7, 5, 3},
        {1, 6, 32, 256},
        {1, 13, 33, 257},
        {1, 1, 100, 50},
        {1, 50, 1, 30},
        {1, 300, 40, 20},
        {1, 3, 2100, 5},
        {1, 25, 17, 600},
        {4, 17, 19, 23},
        {3, 1, 1, 1},
        {2, 64, 64, 64},
        {5, 30, 31, 9},
    };

    private static final boolean[][] TRANSPOSES = {{false, false}, {true, false}, {false, true}, {true, true}};

    static Stream<Arguments> shapesAndTransposes() {
        List<Arguments> cases = new ArrayList<>();
        for (int[] s : SHAPES) {
            for (boolean[] t : TRANSPOSES) {
                cases.add(Arguments.of(s[0], s[1], s[2], s[3], t[0], t[1]));
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "F32 B={0} M={1} N={2} K={3} transA={4} transB={5}")
    @MethodSource("shapesAndTransposes")
    void f32MatchesDoubleLoop(int batch, int m, int n, int k, boolean transA, boolean transB) {
        check(KERNEL, DType.F32, batch, m, n, k, transA, transB, 1.0, false, Share.NONE, 0, 1e-5);
    }

    @ParameterizedTest(name = "F32 alpha, accumulate B={0} M={1} N={2} K={3} transA={4} transB={5}")
    @MethodSource("shapesAndTransposes")
    void f32AlphaAndAccumulate(int batch, int m, int n, int k, boolean transA, boolean transB) {
        check(KERNEL, DType.F32, batch, m, n, k, transA, transB, -0.75, true, Share.NONE, 3, 1e-5);
    }

    @ParameterizedTest(name = "F64 B={0} M={1} N={2} K={3} transA={4} transB={5}")
    @MethodSource("shapesAndTransposes")
    void f64MatchesDoubleLoop(int batch, int m, int n, int k, boolean transA, boolean transB) {
        check(KERNEL, DType.F64, batch, m, n, k, transA, transB, 1.0, false, Share.NONE, 0, 1e-12);
        check(KERNEL, DType.F64, batch, m, n, k, transA, transB, 2.5, true, Share.NONE, 5, 1e-12);
    }

    @ParameterizedTest(name = "BF16 and F16 B={0} M={1} N={2} K={3} transA={4} transB={5}")
    @MethodSource("shapesAndTransposes")
    void halfPrecisionMatchesDoubleLoop(int batch, int m, int n, int k, boolean transA, boolean transB) {
        check(KERNEL, DType.BF16, batch, m, n, k, transA, transB, 1.0, false, Share.NONE, 0, 1e-2);
        check(KERNEL, DType.F16, batch, m, n, k, transA, transB, 0.5, true, Share.NONE, 2, 1e-2);
    }

    @ParameterizedTest(name = "shared operand B={0} M={1} N={2} K={3} transA={4} transB={5}")
    @MethodSource("shapesAndTransposes")
    void sharedOperandBroadcastsOverBatch(int batch, int m, int n, int k, boolean transA, boolean transB) {
        int b = Math.max(batch, 3);
        check(KERNEL, DType.F32, b, m, n, k, transA, transB, 1.0, false, Share.A_STRIDE_0, 0, 1e-5);
        check(KERNEL, DType.F32, b, m, n, k, transA, transB, 1.0, true, Share.B_STRIDE_0, 1, 1e-5);
        check(KERNEL, DType.F32, b, m, n, k, transA, transB, 1.0, false, Share.B_BATCH_1, 0, 1e-5);
        check(KERNEL, DType.F64, b, m, n, k, transA, transB, 1.0, false, Share.A_BATCH_1, 0, 1e-12);
    }

    @ParameterizedTest(name = "scalar F32 kernel B={0} M={1} N={2} K={3} transA={4} transB={5}")
    @MethodSource("shapesAndTransposes")
    void scalarF32KernelMatchesDoubleLoop(int batch, int m, int n, int k, boolean transA, boolean transB) {
        CpuMatmul scalar = withF32Kernel("scalar");
        assertTrue(!scalar.usesVectorKernel(), "the property should select the scalar micro-kernel");
        check(scalar, DType.F32, batch, m, n, k, transA, transB, -1.5, true, Share.NONE, 1, 1e-5);
    }

    @Test
    void vectorKernelIsTheDefaultWhenTheModuleIsLoaded() {
        boolean loaded = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        assertEquals(loaded, KERNEL.usesVectorKernel());
    }

    @Test
    void emptyDepthGivesZerosOrLeavesOutAlone() {
        for (DType dtype : new DType[] {DType.F32, DType.F64, DType.BF16}) {
            check(KERNEL, dtype, 2, 3, 4, 0, false, false, 1.0, false, Share.NONE, 0, 0);
            check(KERNEL, dtype, 2, 3, 4, 0, true, true, 1.0, true, Share.NONE, 0, 0);
        }
    }

    @Test
    void naiveReferenceMatchesDoubleLoop() {
        Random rng = new Random(7);
        for (boolean[] t : TRANSPOSES) {
            Tensor a = random(DType.F32, rng, 2, t[0] ? 9 : 7, t[0] ? 7 : 9, false, 1);
            Tensor b = random(DType.F32, rng, 2, t[1] ? 5 : 9, t[1] ? 9 : 5, false, 2);
            Tensor out = random(DType.F32, rng, 2, 7, 5, false, 0);
            Expected e = reference(out, a, b, t[0], t[1], 0.5, true);
            CpuMatmul.matmulNaive(out, a, b, t[0], t[1], 0.5, true);
            compare("naive F32", out, e, 1e-6);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // the facade: torch.matmul shape rules, transposed views, errors

    @Test
    void facadeOneDimensional() {
        assumeCpuBackend();
        Random rng = new Random(11);
        float[] x = randomFloats(rng, 5);
        float[] y = randomFloats(rng, 5);
        Tensor dot = Linalg.matmul(Tensor.of(x, 5), Tensor.of(y, 5));
        assertEquals(Shape.scalar(), dot.shape());
        assertClose(product(x, 1, 5, y, 1), dot.toDoubleArray(), 5, "vector · vector");

        float[] w = randomFloats(rng, 5 * 3);
        Tensor rowTimesMatrix = Linalg.matmul(Tensor.of(x, 5), Tensor.of(w, 5, 3));
        assertEquals(Shape.of(3), rowTimesMatrix.shape());
        assertClose(product(x, 1, 5, w, 3), rowTimesMatrix.toDoubleArray(), 5, "vector · matrix");

        float[] v = randomFloats(rng, 4 * 5);
        Tensor matrixTimesColumn = Linalg.matmul(Tensor.of(v, 4, 5), Tensor.of(y, 5));
        assertEquals(Shape.of(4), matrixTimesColumn.shape());
        assertClose(product(v, 4, 5, y, 1), matrixTimesColumn.toDoubleArray(), 5, "matrix · vector");
    }

    @Test
    void facadeTwoDimensional() {
        assumeCpuBackend();
        Random rng = new Random(12);
        float[] a = randomFloats(rng, 113 * 67);
        float[] b = randomFloats(rng, 67 * 203);
        Tensor out = Linalg.matmul(Tensor.of(a, 113, 67), Tensor.of(b, 67, 203));
        assertEquals(Shape.of(113, 203), out.shape());
        assertClose(product(a, 113, 67, b, 203), out.toDoubleArray(), 67, "(113, 67) · (67, 203)");
    }

    @Test
    void facadeBroadcastsBatches() {
        assumeCpuBackend();
        Random rng = new Random(13);
        int m = 7;
        int k = 9;
        int n = 11;
        // (2, 3, M, K) · (K, N): the matrix b is shared by all six products without a copy
        float[] a = randomFloats(rng, 2 * 3 * m * k);
        float[] b = randomFloats(rng, k * n);
        Tensor out = Linalg.matmul(Tensor.of(a, 2, 3, m, k), Tensor.of(b, k, n));
        assertEquals(Shape.of(2, 3, m, n), out.shape());
        double[] got = out.toDoubleArray();
        for (int e = 0; e < 6; e++) {
            float[] ae = slice(a, e * m * k, m * k);
            assertClose(product(ae, m, k, b, n), slice(got, e * m * n, m * n), k, "batch entry " + e);
        }
        // (2, 1, M, K) · (3, K, N) -> (2, 3, M, N)
        float[] a2 = randomFloats(rng, 2 * m * k);
        float[] b2 = randomFloats(rng, 3 * k * n);
        Tensor out2 = Linalg.matmul(Tensor.of(a2, 2, 1, m, k), Tensor.of(b2, 3, k, n));
        assertEquals(Shape.of(2, 3, m, n), out2.shape());
        double[] got2 = out2.toDoubleArray();
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 3; j++) {
                double[] want = product(slice(a2, i * m * k, m * k), m, k, slice(b2, j * k * n, k * n), n);
                assertClose(want, slice(got2, (i * 3 + j) * m * n, m * n), k, "batch entry (" + i + ", " + j + ")");
            }
        }
    }

    @Test
    void facadeTransposedViews() {
        assumeCpuBackend();
        Random rng = new Random(14);
        int m = 13;
        int k = 33;
        int n = 19;
        // at holds a (K, M) matrix; at.transpose(0, 1) is op(a) = its transpose, a strided view of shape (M, K)
        float[] at = randomFloats(rng, k * m);
        float[] bt = randomFloats(rng, n * k);
        float[] a = transpose(at, k, m);
        float[] b = transpose(bt, n, k);
        double[] want = product(a, m, k, b, n);
        Tensor aView = Tensor.of(at, k, m).transpose(0, 1);
        Tensor bView = Tensor.of(bt, n, k).transpose(0, 1);
        assertClose(want, Linalg.matmul(aView, Tensor.of(b, k, n)).toDoubleArray(), k, "a^T view · b");
        assertClose(want, Linalg.matmul(Tensor.of(a, m, k), bView).toDoubleArray(), k, "a · b^T view");
        assertClose(want, Linalg.matmul(aView, bView).toDoubleArray(), k, "a^T view · b^T view");
        // batched: (2, K, M).transpose(1, 2) · (K, N)
        float[] at2 = randomFloats(rng, 2 * k * m);
        Tensor out = Linalg.matmul(Tensor.of(at2, 2, k, m).transpose(1, 2), Tensor.of(b, k, n));
        assertEquals(Shape.of(2, m, n), out.shape());
        for (int e = 0; e < 2; e++) {
            double[] wantE = product(transpose(slice(at2, e * k * m, k * m), k, m), m, k, b, n);
            assertClose(wantE, slice(out.toDoubleArray(), e * m * n, m * n), k, "batched transposed entry " + e);
        }
    }

    @Test
    void facadeShapeMismatchNamesBothShapes() {
        assumeCpuBackend();
        Tensor a = Tensor.of(new float[6], 2, 3);
        Tensor b = Tensor.of(new float[20], 4, 5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Linalg.matmul(a, b));
        assertTrue(e.getMessage().contains("(2, 3)") && e.getMessage().contains("(4, 5)"),
                "message should name both shapes, got: " + e.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // the check: random operands, the double loop, an element-wise comparison

    /** Which operand one matrix is shared by the whole batch, and how: stride 0, or a batch axis of size 1. */
    private enum Share { NONE, A_STRIDE_0, B_STRIDE_0, A_BATCH_1, B_BATCH_1 }

    /**
     * Runs one product on random operands (placed after {@code pad} unused elements) and compares it with the double
     * loop, element by element, at {@code tol} times the element's magnitude.
     */
    private static void check(CpuMatmul kernel, DType dtype, int batch, int m, int n, int k, boolean transA,
            boolean transB, double alpha, boolean accumulate, Share share, int pad, double tol) {
        Random rng = new Random(31L * m + 17L * n + k + batch + (transA ? 1000 : 0) + (transB ? 2000 : 0));
        // a (B, M, K) or (B, K, M) if transA; b (B, K, N) or (B, N, K) if transB
        Tensor a = operand(dtype, rng, batch, transA ? k : m, transA ? m : k, share, Share.A_STRIDE_0,
                Share.A_BATCH_1, pad);
        Tensor b = operand(dtype, rng, batch, transB ? n : k, transB ? k : n, share, Share.B_STRIDE_0,
                Share.B_BATCH_1, pad + 1);
        Tensor out = random(dtype, rng, batch, m, n, false, pad + 2);
        Expected e = reference(out, a, b, transA, transB, alpha, accumulate);
        kernel.matmul(out, a, b, transA, transB, alpha, accumulate);
        String what = dtype + " B=" + batch + " M=" + m + " N=" + n + " K=" + k + " transA=" + transA + " transB="
                + transB + " alpha=" + alpha + " accumulate=" + accumulate + " share=" + share + " pad=" + pad;
        compare(what, out, e, tol);
    }

    private static Tensor operand(DType dtype, Random rng, int batch, int rows, int cols, Share share, Share stride0,
            Share batch1, int pad) {
        if (share == batch1) {
            return random(dtype, rng, 1, rows, cols, false, pad);
        }
        return random(dtype, rng, batch, rows, cols, share == stride0, pad);
    }

    /**
     * A host tensor (batch, rows, cols) of random values in [-1, 1) after {@code pad} unused elements; with
     * {@code shared}, a single matrix with batch stride 0.
     */
    private static Tensor random(DType dtype, Random rng, int batch, int rows, int cols, boolean shared, int pad) {
        int stored = (shared ? 1 : batch) * rows * cols;
        CpuStorage s = CpuStorage.allocate(dtype, pad + stored);
        for (int i = 0; i < pad + stored; i++) {
            s.set(i, i < pad ? Double.NaN : rng.nextDouble() * 2 - 1); // NaN padding shows any read out of range
        }
        long[] strides = {shared ? 0 : (long) rows * cols, cols, 1};
        return new Tensor(s, Shape.of(batch, rows, cols), strides, pad);
    }

    /** Expected values and magnitudes (for the tolerance) of out (B, M, N), row-major. */
    private record Expected(double[] value, double[] magnitude) {}

    /** alpha · op(a) · op(b) (+ out), addressing every element through the tensors' shapes, strides and offsets. */
    private static Expected reference(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, double alpha,
            boolean accumulate) {
        int batch = (int) out.shape().dim(0);
        int m = (int) out.shape().dim(1);
        int n = (int) out.shape().dim(2);
        int k = (int) (transA ? a.shape().dim(1) : a.shape().dim(2));
        double[] value = new double[batch * m * n];
        double[] magnitude = new double[batch * m * n];
        for (int e = 0; e < batch; e++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    double mag = 0;
                    for (int p = 0; p < k; p++) {
                        double x = transA ? at(a, e, p, i) : at(a, e, i, p);
                        double y = transB ? at(b, e, j, p) : at(b, e, p, j);
                        sum += x * y;
                        mag += Math.abs(x * y);
                    }
                    int o = (e * m + i) * n + j;
                    double old = accumulate ? at(out, e, i, j) : 0;
                    value[o] = alpha * sum + old;
                    magnitude[o] = Math.abs(alpha) * mag + Math.abs(old);
                }
            }
        }
        return new Expected(value, magnitude);
    }

    /** Element (e, r, c) of a 3-D host tensor; a batch axis of size 1 serves every e. */
    private static double at(Tensor t, int e, int r, int c) {
        int entry = t.shape().dim(0) == 1 ? 0 : e;
        long index = t.offset() + entry * t.stride(0) + r * t.stride(1) + c * t.stride(2);
        return t.cpu().get(Math.toIntExact(index));
    }

    private static void compare(String what, Tensor out, Expected e, double tol) {
        CpuStorage s = out.cpu();
        int off = (int) out.offset();
        int n = (int) out.shape().dim(2);
        int m = (int) out.shape().dim(1);
        for (int o = 0; o < e.value.length; o++) {
            double got = s.get(off + o);
            double want = e.value[o];
            double allowed = tol * e.magnitude[o] + 1e-30;
            if (!(Math.abs(got - want) <= allowed)) {
                fail("Mismatch of " + what + " at (" + o / (m * n) + ", " + (o / n) % m + ", " + o % n + "): got "
                        + got + ", expected " + want + ", |diff| " + Math.abs(got - want) + " > tolerance " + allowed);
            }
        }
    }

    private static CpuMatmul withF32Kernel(String kernel) {
        String before = System.getProperty(CpuMatmul.F32_KERNEL_PROPERTY);
        System.setProperty(CpuMatmul.F32_KERNEL_PROPERTY, kernel);
        try {
            return new CpuMatmul();
        } finally {
            if (before == null) {
                System.clearProperty(CpuMatmul.F32_KERNEL_PROPERTY);
            } else {
                System.setProperty(CpuMatmul.F32_KERNEL_PROPERTY, before);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // small helpers for the facade tests

    private static void assumeCpuBackend() {
        assumeTrue(Backends.isAvailable(Device.Kind.CPU),
                "no CPU backend registered: " + Backends.unavailableReason(Device.Kind.CPU));
    }

    private static float[] randomFloats(Random rng, int count) {
        float[] f = new float[count];
        for (int i = 0; i < count; i++) {
            f[i] = rng.nextFloat() * 2 - 1;
        }
        return f;
    }

    /** a (M, K) · b (K, N) in double, row-major. */
    private static double[] product(float[] a, int m, int k, float[] b, int n) {
        double[] out = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int p = 0; p < k; p++) {
                    sum += (double) a[i * k + p] * b[p * n + j];
                }
                out[i * n + j] = sum;
            }
        }
        return out;
    }

    /** x (rows, cols) transposed to (cols, rows). */
    private static float[] transpose(float[] x, int rows, int cols) {
        float[] t = new float[x.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = x[r * cols + c];
            }
        }
        return t;
    }

    private static float[] slice(float[] x, int from, int count) {
        float[] s = new float[count];
        System.arraycopy(x, from, s, 0, count);
        return s;
    }

    private static double[] slice(double[] x, int from, int count) {
        double[] s = new double[count];
        System.arraycopy(x, from, s, 0, count);
        return s;
    }

    /** F32 products of depth k: each element within 1e-5 · k (inputs lie in [-1, 1), so Σ|a||b| <= k). */
    private static void assertClose(double[] want, double[] got, int k, String what) {
        assertEquals(want.length, got.length, what + ": element count");
        for (int i = 0; i < want.length; i++) {
            double allowed = 1e-5 * k;
            if (!(Math.abs(got[i] - want[i]) <= allowed)) {
                fail("Mismatch of " + what + " at " + i + ": got " + got[i] + ", expected " + want[i]
                        + ", tolerance " + allowed);
            }
        }
    }
}
