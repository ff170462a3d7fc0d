package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import java.util.SplittableRandom;

/** Helpers for GPU tests: random host tensors, poisoned device outputs, CPU-vs-GPU comparison with dtype tolerance. */
final class CudaTesting {
    private CudaTesting() {}

    /** Uniform values in [lo, hi) on the host, rounded to {@code dtype}. */
    static Tensor random(SplittableRandom rnd, DType dtype, double lo, double hi, long... shape) {
        int n = Math.toIntExact(Shape.of(shape).numel());
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = dtype.isFloating() ? lo + (hi - lo) * rnd.nextDouble() : Math.floor(lo + (hi - lo) * rnd.nextDouble());
        }
        return Tensor.of(v, shape).cast(dtype);
    }

    /** A device tensor filled with NaN (floats) or a sentinel (integers), so unwritten elements fail comparisons. */
    static Tensor poisoned(Shape shape, DType dtype) {
        Tensor t = Tensor.zeros(shape, dtype, Device.cuda(0));
        Elementwise.fill(t, dtype.isFloating() ? Double.NaN : (dtype == DType.BOOL ? 1 : -12345));
        return t;
    }

    /** Tolerance: 1e-5 relative for F32/F64, 1e-2 for BF16/F16 (plus the same absolute floor). */
    static double tolerance(DType t) {
        return t.isHalf() ? 1e-2 : (t.isFloating() ? 1e-5 : 0);
    }

    /** Fails unless |gpu − cpu| ≤ tol·(1 + |cpu|) everywhere (NaN equals NaN), naming the index and both values. */
    static void assertClose(String what, Tensor cpu, Tensor gpu, double tol) {
        if (!cpu.shape().equals(gpu.shape())) {
            throw new AssertionError(what + ": shape " + gpu.shape() + ", expected " + cpu.shape());
        }
        double[] e = cpu.toDoubleArray();
        double[] a = gpu.to(Device.CPU).toDoubleArray();
        for (int i = 0; i < e.length; i++) {
            boolean bothNaN = Double.isNaN(e[i]) && Double.isNaN(a[i]);
            if (!bothNaN && !(Math.abs(a[i] - e[i]) <= tol * (1 + Math.abs(e[i]))) && e[i] != a[i]) {
                throw new AssertionError(what + ": mismatch at " + i + ": cpu " + e[i] + " vs gpu " + a[i]
                        + " (tolerance " + tol + "·(1 + |cpu|))");
            }
        }
    }

    /** Fails unless ‖gpu − cpu‖ ≤ tol·‖cpu‖ and every element is within 5·tol·(1 + |cpu|) (NaN fails). */
    static void assertNear(String what, Tensor cpu, Tensor gpu, double tol) {
        double[] e = cpu.cast(DType.F32).toDoubleArray();
        double[] a = gpu.to(Device.CPU).cast(DType.F32).toDoubleArray();
        double num = 0;
        double den = 0;
        for (int i = 0; i < e.length; i++) {
            if (Double.isInfinite(e[i]) && e[i] == a[i]) {
                continue;
            }
            double diff = a[i] - e[i];
            if (!(Math.abs(diff) <= 5 * tol * (1 + Math.abs(e[i])))) {
                throw new AssertionError(what + ": mismatch at " + i + ": cpu " + e[i] + " vs gpu " + a[i]
                        + " (tolerance " + 5 * tol + "·(1 + |cpu|))");
            }
            num += diff * diff;
            den += e[i] * e[i];
        }
        double rel = Math.sqrt(num / Math.max(den, 1e-30));
        if (!(rel <= tol)) {
            throw new AssertionError(what + ": relative error " + rel + " over " + tol);
        }
    }
}
