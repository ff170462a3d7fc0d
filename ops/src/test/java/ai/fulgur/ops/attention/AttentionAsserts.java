package ai.fulgur.ops.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.testing.TestTensors;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * What the attention tests share: random operands, one call of the flash kernels (forward then backward through the
 * {@link Attention} facade), the comparison of all five results with the float64 {@link AttentionReference} (and of
 * the output with {@link NaiveAttention}), and tensor comparisons whose failures name the tensor, the (b, n, h, c)
 * index, both values and the tolerance.
 *
 * <p>Tolerance for F32: |flash − reference| ≤ {@value #F32_REL} · max(max|reference|, 1) over each tensor, about
 * 100 F32 ulps of the largest entry (outputs are convex combinations of v, gradients sums over up to ~350 keys). The
 * floor of 1 is the scale of the standard-normal inputs: a gradient that is exactly 0 in float64 (a query that sees a
 * single key has dq = 0, as dP − D cancels) is a difference of O(1) terms in F32. Rows that see no key are checked
 * exactly: output 0, lse +∞, dq 0.
 */
final class AttentionAsserts {
    /** Relative (to the tensor's largest reference entry) tolerance of F32 results. */
    static final double F32_REL = 1e-5;

    private AttentionAsserts() {}

    /** Outputs of the flash kernels for one call: forward and the three gradients for {@code dout}. */
    record Flash(Tensor out, Tensor lse, Tensor dq, Tensor dk, Tensor dv) {}

    /** Forward, then backward of Σ out ∘ dout, through the facade. */
    static Flash flash(Tensor q, Tensor k, Tensor v, Tensor dout, AttentionSpec spec) {
        Attention.Forward f = Attention.flashForward(q, k, v, spec);
        Attention.Gradients g = Attention.flashBackward(dout, q, k, v, f.out(), f.lse(), spec);
        return new Flash(f.out(), f.lse(), g.dq(), g.dk(), g.dv());
    }

    /** q (B, Nq, Hq, D), k and v (B, Nk, Hkv, D) and dout like q, standard normal, contiguous. */
    static Tensor[] operands(long seed, DType dtype, long b, long nq, long nk, long hq, long hkv, long d) {
        SplittableRandom rnd = new SplittableRandom(seed);
        return new Tensor[] {TestTensors.normal(rnd, dtype, b, nq, hq, d),
            TestTensors.normal(rnd, dtype, b, nk, hkv, d), TestTensors.normal(rnd, dtype, b, nk, hkv, d),
            TestTensors.normal(rnd, dtype, b, nq, hq, d)};
    }

    /**
     * Runs the flash kernels on {q, k, v, dout} and checks out against {@link NaiveAttention} and out, lse, dq, dk,
     * dv against {@link AttentionReference} with the F32 tolerance; rows that see no key must be exactly empty.
     * Returns the flash results and, through {@link Checked#emptyRows}, how many (b, h, i) rows saw no key.
     */
    static Checked checkAgainstReference(String what, Tensor[] qkvd, AttentionSpec spec) {
        Tensor q = qkvd[0];
        Tensor k = qkvd[1];
        Tensor v = qkvd[2];
        Tensor dout = qkvd[3];
        Flash f = flash(q, k, v, dout, spec);
        AttentionReference.Result ref = AttentionReference.run(q, k, v, dout, spec);
        assertNear(what + ": out vs NaiveAttention", NaiveAttention.forward(q, k, v, spec), f.out(), F32_REL);
        assertNear(what + ": out", ref.out(), f.out(), F32_REL);
        assertNear(what + ": lse", ref.lse(), f.lse(), F32_REL);
        assertNear(what + ": dq", ref.dq(), f.dq(), F32_REL);
        assertNear(what + ": dk", ref.dk(), f.dk(), F32_REL);
        assertNear(what + ": dv", ref.dv(), f.dv(), F32_REL);
        int empty = checkEmptyRows(what, ref.lse(), f);
        return new Checked(f, ref, empty);
    }

    /** The flash results, the reference and the number of (b, h, i) rows that saw no key. */
    record Checked(Flash flash, AttentionReference.Result ref, int emptyRows) {}

    /**
     * For every (b, h, i) whose reference lse is +∞ (no visible key), the kernel's lse must be +∞ and its output and
     * dq rows exactly zero. Returns the number of such rows.
     */
    static int checkEmptyRows(String what, Tensor refLse, Flash f) {
        long[] shape = f.out().shape().dims(); // (B, Nq, Hq, D)
        int hq = (int) shape[2];
        int nq = (int) shape[1];
        int d = (int) shape[3];
        double[] lse = refLse.toDoubleArray();
        double[] got = f.lse().toDoubleArray();
        double[] out = f.out().toDoubleArray();
        double[] dq = f.dq().toDoubleArray();
        int empty = 0;
        for (int li = 0; li < lse.length; li++) {
            if (lse[li] != Double.POSITIVE_INFINITY) {
                continue;
            }
            empty++;
            int b = li / (hq * nq);
            int h = li / nq % hq;
            int i = li % nq;
            String at = "(b " + b + ", i " + i + ", h " + h + ")";
            assertEquals(Double.POSITIVE_INFINITY, got[li], what + ": lse of the keyless row " + at);
            int base = ((b * nq + i) * hq + h) * d;
            for (int c = 0; c < d; c++) {
                if (out[base + c] != 0 || dq[base + c] != 0) {
                    throw new AssertionError(what + ": keyless row " + at + " has out " + out[base + c] + ", dq "
                            + dq[base + c] + " at c " + c + ", expected exactly 0");
                }
            }
        }
        return empty;
    }

    /**
     * Fails unless shapes match and |actual − expected| ≤ rel · max(max|expected|, 1) everywhere; infinities must
     * match exactly. The message names the tensor, the multi-index, both values and the tolerance.
     */
    static void assertNear(String what, Tensor expected, Tensor actual, double rel) {
        if (!expected.shape().equals(actual.shape())) {
            throw new AssertionError(what + ": shape " + actual.shape() + ", expected " + expected.shape());
        }
        double[] e = expected.toDoubleArray();
        double[] a = actual.toDoubleArray();
        double scale = 1;
        for (double x : e) {
            if (Double.isFinite(x)) {
                scale = Math.max(scale, Math.abs(x));
            }
        }
        double tol = rel * scale;
        for (int i = 0; i < e.length; i++) {
            double diff = Math.abs(a[i] - e[i]);
            boolean ok = Double.isInfinite(e[i]) ? a[i] == e[i] : diff <= tol;
            if (!ok) {
                throw new AssertionError(what + ": mismatch at " + index(expected.shape().dims(), i) + " of shape "
                        + expected.shape() + ": expected " + e[i] + ", got " + a[i] + " (|diff| " + diff + " > "
                        + rel + " · max(max|expected|, 1) = " + tol + ")");
            }
        }
    }

    /** max |actual − expected| over finite entries. */
    static double maxDiff(Tensor expected, Tensor actual) {
        double[] e = expected.toDoubleArray();
        double[] a = actual.toDoubleArray();
        double worst = 0;
        for (int i = 0; i < e.length; i++) {
            if (Double.isFinite(e[i])) {
                worst = Math.max(worst, Math.abs(a[i] - e[i]));
            }
        }
        return worst;
    }

    /** Fails unless both tensors have the same shape and bit-identical elements. */
    static void assertIdentical(String what, Tensor expected, Tensor actual) {
        if (!expected.shape().equals(actual.shape())) {
            throw new AssertionError(what + ": shape " + actual.shape() + ", expected " + expected.shape());
        }
        double[] e = expected.toDoubleArray();
        double[] a = actual.toDoubleArray();
        for (int i = 0; i < e.length; i++) {
            if (Double.doubleToLongBits(e[i]) != Double.doubleToLongBits(a[i])) {
                throw new AssertionError(what + ": differs at " + index(expected.shape().dims(), i) + ": expected "
                        + e[i] + ", got " + a[i] + " (bit-identical results required)");
            }
        }
    }

    /** The row-major multi-index of flat element {@code flat}, as "[b, n, h, c]". */
    static String index(long[] shape, int flat) {
        long[] idx = new long[shape.length];
        long rest = flat;
        for (int a = shape.length - 1; a >= 0; a--) {
            idx[a] = shape[a] == 0 ? 0 : rest % shape[a];
            rest = shape[a] == 0 ? 0 : rest / shape[a];
        }
        return Arrays.toString(idx);
    }
}
