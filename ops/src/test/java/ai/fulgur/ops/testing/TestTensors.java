package ai.fulgur.ops.testing;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import java.util.SplittableRandom;

/** Random inputs and tolerant comparisons for tests; every failure names the tensor, index, both values and tolerance. */
public final class TestTensors {
    private TestTensors() {}

    /** Uniform values in [lo, hi) of the given shape and dtype (host). */
    public static Tensor uniform(SplittableRandom rnd, DType dtype, double lo, double hi, long... shape) {
        int n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, Math.toIntExact(d));
        }
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = lo + (hi - lo) * rnd.nextDouble();
        }
        return Tensor.of(v, shape).cast(dtype);
    }

    /** Standard normal values (host). */
    public static Tensor normal(SplittableRandom rnd, DType dtype, long... shape) {
        int n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, Math.toIntExact(d));
        }
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            double u1 = 1 - rnd.nextDouble();
            double u2 = rnd.nextDouble();
            v[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
        }
        return Tensor.of(v, shape).cast(dtype);
    }

    /** Standard normal F32 values (Box–Muller) from a generator seeded with {@code seed}: the same for the same seed. */
    public static float[] normalFloats(long seed, int n) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            double u1 = 1 - rnd.nextDouble();
            double u2 = rnd.nextDouble();
            v[i] = (float) (Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
        }
        return v;
    }

    /** Random integers in [0, bound) as I64 (host). */
    public static Tensor indices(SplittableRandom rnd, long bound, long... shape) {
        int n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, Math.toIntExact(d));
        }
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
            v[i] = rnd.nextLong(bound);
        }
        return Tensor.of(v, shape);
    }

    /**
     * Fails unless shapes match and |actual − expected| ≤ atol + rtol·|expected| everywhere (NaN matches NaN).
     */
    public static void assertClose(String what, Tensor expected, Tensor actual, double atol, double rtol) {
        if (!expected.shape().equals(actual.shape())) {
            throw new AssertionError(what + ": shape " + actual.shape() + ", expected " + expected.shape());
        }
        double[] e = expected.toDoubleArray();
        double[] a = actual.toDoubleArray();
        double maxDiff = 0;
        for (int i = 0; i < e.length; i++) {
            boolean bothNaN = Double.isNaN(e[i]) && Double.isNaN(a[i]);
            double diff = Math.abs(a[i] - e[i]);
            if (!bothNaN && !(diff <= atol + rtol * Math.abs(e[i])) && !(e[i] == a[i])) {
                throw new AssertionError(what + ": mismatch at " + i + " of " + e.length + ": expected " + e[i]
                        + ", got " + a[i] + " (|diff| " + diff + " > atol " + atol + " + rtol " + rtol + "·|expected|)");
            }
            if (!bothNaN && diff > maxDiff) {
                maxDiff = diff;
            }
        }
    }
}
