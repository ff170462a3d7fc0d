package ai.fulgur.ops.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.linalg.Linalg;
import ai.fulgur.ops.linalg.LinearEpilogue;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link CpuLinear} (through the {@link Linalg#linear} facade) against y = epilogue(Σ x·w + b) written here in float64,
 * with the tanh GELU's formula spelled out, over shapes that do not divide the matmul tiles; F32 with a bias is the
 * same bits as matmul followed by an add (what the autograd Linear computes on the CPU).
 */
class CpuLinearTest {
    private static final long[][] SHAPES = {{1, 1, 1}, {7, 5, 3}, {113, 67, 203}, {33, 300, 17}, {2, 1, 9}};

    @Test
    void everyEpilogueAndDtypeMatchesTheDoubleFormula() {
        Random rnd = new Random(3);
        for (DType dtype : new DType[] {DType.F32, DType.F64, DType.BF16, DType.F16}) {
            for (LinearEpilogue epilogue : LinearEpilogue.values()) {
                for (long[] s : SHAPES) {
                    check(rnd, dtype, epilogue, s[0], s[1], s[2]);
                }
            }
        }
    }

    @Test
    void batchedInputKeepsItsLeadingAxes() {
        Random rnd = new Random(4);
        Tensor x = random(rnd, DType.F32, 2, 3, 5);
        Tensor w = random(rnd, DType.F32, 4, 5);
        Tensor b = random(rnd, DType.F32, 4);
        Tensor y = Linalg.linear(x, w, b, LinearEpilogue.BIAS);
        assertEquals(Shape.of(2, 3, 4), y.shape());
        Tensor flat = Linalg.linear(x.reshape(6, 5), w, b, LinearEpilogue.BIAS);
        assertArrayEquals(flat.toFloatArray(), y.toFloatArray());
    }

    @Test
    void f32BiasIsBitForBitMatmulThenAdd() {
        Random rnd = new Random(5);
        Tensor x = random(rnd, DType.F32, 57, 129);
        Tensor w = random(rnd, DType.F32, 70, 129);
        Tensor b = random(rnd, DType.F32, 70);
        Tensor composed = Elementwise.add(Linalg.matmul(x, w.transpose(0, 1)), b);
        Tensor fused = Linalg.linear(x, w, b, LinearEpilogue.BIAS);
        assertArrayEquals(composed.toFloatArray(), fused.toFloatArray());
    }

    @Test
    void cpuDoesNotClaimAFusedPath() {
        for (DType dtype : DType.values()) {
            assertTrue(!Backends.of(Device.CPU).linalg().fusesLinear(dtype), dtype.toString());
        }
    }

    @Test
    void badArgumentsAreNamed() {
        Tensor x = Tensor.zeros(Shape.of(3, 5), DType.F32, Device.CPU);
        Tensor w = Tensor.zeros(Shape.of(4, 5), DType.F32, Device.CPU);
        Tensor b = Tensor.zeros(Shape.of(4), DType.F32, Device.CPU);
        IllegalArgumentException noBias = assertThrows(IllegalArgumentException.class,
                () -> Linalg.linear(x, w, null, LinearEpilogue.BIAS));
        assertTrue(noBias.getMessage().contains("needs a bias of shape (4)"), noBias.getMessage());
        IllegalArgumentException extraBias = assertThrows(IllegalArgumentException.class,
                () -> Linalg.linear(x, w, b, LinearEpilogue.GELU));
        assertTrue(extraBias.getMessage().contains("takes no bias"), extraBias.getMessage());
        IllegalArgumentException features = assertThrows(IllegalArgumentException.class,
                () -> Linalg.linear(Tensor.zeros(Shape.of(3, 6), DType.F32, Device.CPU), w, b, LinearEpilogue.BIAS));
        assertTrue(features.getMessage().contains("must end in 5 features"), features.getMessage());
        Tensor out = Tensor.zeros(Shape.of(3, 4), DType.F32, Device.CPU);
        IllegalArgumentException pre = assertThrows(IllegalArgumentException.class,
                () -> Linalg.linearInto(out, x, w, b, LinearEpilogue.BIAS, out.copy()));
        assertTrue(pre.getMessage().contains("only written with a GELU epilogue"), pre.getMessage());
    }

    private static void check(Random rnd, DType dtype, LinearEpilogue epilogue, long m, long n, long k) {
        Tensor x = random(rnd, dtype, m, k);
        Tensor w = random(rnd, dtype, n, k);
        Tensor b = epilogue.hasBias() ? random(rnd, dtype, n) : null;
        Tensor out = Tensor.zeros(Shape.of(m, n), dtype, Device.CPU);
        Tensor pre = epilogue.hasGelu() ? Tensor.zeros(Shape.of(m, n), dtype, Device.CPU) : null;
        Linalg.linearInto(out, x, w, b, epilogue, pre);
        double[] xv = x.toDoubleArray();
        double[] wv = w.toDoubleArray();
        double[] bv = b == null ? null : b.toDoubleArray();
        double[] got = out.toDoubleArray();
        double[] gotPre = pre == null ? null : pre.toDoubleArray();
        double tol = switch (dtype) {
            case F64 -> 1e-12;
            case F32 -> 1e-5;
            default -> 1e-2;
        };
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                double magnitude = 0;
                for (int p = 0; p < k; p++) {
                    sum += xv[(int) (i * k + p)] * wv[(int) (j * k + p)];
                    magnitude += Math.abs(xv[(int) (i * k + p)] * wv[(int) (j * k + p)]);
                }
                if (bv != null) {
                    sum += bv[j];
                    magnitude += Math.abs(bv[j]);
                }
                double expected = epilogue.hasGelu() ? geluTanh(sum) : sum;
                String where = dtype + " " + epilogue + " (" + m + ", " + n + ", " + k + ") at (" + i + ", " + j + ")";
                double e = got[(int) (i * n + j)];
                assertTrue(Math.abs(e - expected) <= tol * (1 + magnitude),
                        where + ": got " + e + ", expected " + expected + " (tolerance " + tol + ")");
                if (gotPre != null) {
                    double p = gotPre[(int) (i * n + j)];
                    assertTrue(Math.abs(p - sum) <= tol * (1 + magnitude),
                            where + " pre-activation: got " + p + ", expected " + sum);
                }
            }
        }
    }

    /** 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))). */
    private static double geluTanh(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    private static Tensor random(Random rnd, DType dtype, long... shape) {
        double[] v = new double[Math.toIntExact(Shape.of(shape).numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = 2 * rnd.nextDouble() - 1;
        }
        return Tensor.of(v, shape).cast(dtype);
    }
}
