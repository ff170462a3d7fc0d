package ai.fulgur.ops.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The float64 {@link AttentionReference} that the kernel tests trust: its forward equals {@link NaiveAttention}, its
 * hand-derived backward equals central differences of L = Σ out ∘ dout on tiny cases that use every option at once
 * (grouped-query heads, causal with Nq ≠ Nk, window, key padding, dropout, block layout, packing), and its logsumexp
 * is the log of the softmax denominator.
 */
class AttentionReferenceTest {

    /** L = Σ out ∘ dout in float64. */
    private static double loss(Tensor q, Tensor k, Tensor v, Tensor dout, AttentionSpec spec) {
        double[] out = AttentionReference.run(q, k, v, null, spec).out().toDoubleArray();
        double[] g = dout.toDoubleArray();
        double sum = 0;
        for (int i = 0; i < out.length; i++) {
            sum += out[i] * g[i];
        }
        return sum;
    }

    /** ∂L/∂x by central differences, x being operand {@code which} (0 q, 1 k, 2 v). */
    private static double[] centralDifferences(Tensor[] qkvd, int which, AttentionSpec spec) {
        double h = 1e-5;
        double[] x = qkvd[which].toDoubleArray();
        double[] grad = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            Tensor[] plus = qkvd.clone();
            Tensor[] minus = qkvd.clone();
            double[] xp = x.clone();
            double[] xm = x.clone();
            xp[i] += h;
            xm[i] -= h;
            plus[which] = Tensor.of(xp, qkvd[which].shape().dims());
            minus[which] = Tensor.of(xm, qkvd[which].shape().dims());
            grad[i] = (loss(plus[0], plus[1], plus[2], qkvd[3], spec) - loss(minus[0], minus[1], minus[2], qkvd[3],
                    spec)) / (2 * h);
        }
        return grad;
    }

    private static void checkGradients(String what, Tensor[] qkvd, AttentionSpec spec) {
        AttentionReference.Result r = AttentionReference.run(qkvd[0], qkvd[1], qkvd[2], qkvd[3], spec);
        Tensor[] analytic = {r.dq(), r.dk(), r.dv()};
        String[] names = {"dq", "dk", "dv"};
        for (int which = 0; which < 3; which++) {
            Tensor numeric = Tensor.of(centralDifferences(qkvd, which, spec), qkvd[which].shape().dims());
            AttentionAsserts.assertNear(what + ": " + names[which] + " vs central differences", numeric,
                    analytic[which], 1e-7);
        }
        AttentionAsserts.assertNear(what + ": forward vs NaiveAttention", NaiveAttention.forward(qkvd[0], qkvd[1],
                qkvd[2], spec), r.out(), 1e-12);
    }

    @Test
    void gradientsEqualCentralDifferencesWithGqaCausalPaddingAndDropout() {
        Tensor[] t = AttentionAsserts.operands(1, DType.F64, 2, 5, 4, 4, 2, 3);
        AttentionSpec spec = AttentionSpec.causal(3).withKeyLengths(Tensor.of(new long[] {4, 2}, 2))
                .withDropout(0.3, 8, 1);
        checkGradients("causal + padding + dropout", t, spec);
        // a window, more keys than queries, a per-head block layout of blocks of 2
        Tensor[] u = AttentionAsserts.operands(2, DType.F64, 1, 3, 6, 2, 1, 4);
        boolean[] mask = {true, false, true, /* head 0, query block 0 */ false, true, true, // head 0, query block 1
            true, true, false, true, false, true}; // head 1
        AttentionSpec windowed = AttentionSpec.dense(4).withScale(0.7).withWindow(2, 1)
                .withLayout(new BlockSparseLayout(2, 2, 2, 3, mask));
        checkGradients("window + layout", u, windowed);
    }

    @Test
    void gradientsEqualCentralDifferencesInAPackedBatch() {
        Tensor[] t = AttentionAsserts.operands(3, DType.F64, 1, 6, 7, 2, 2, 3);
        AttentionSpec spec = AttentionSpec.causal(3).withPacked(Tensor.of(new long[] {0, 2, 2, 6}, 4),
                Tensor.of(new long[] {0, 3, 4, 7}, 4)).withDropout(0.25, 3, 0);
        checkGradients("packed", t, spec);
    }

    @Test
    void logsumexpIsTheLogOfTheSoftmaxDenominator() {
        Tensor[] t = AttentionAsserts.operands(4, DType.F64, 1, 3, 4, 1, 1, 2);
        double[] q = t[0].toDoubleArray();
        double[] k = t[1].toDoubleArray();
        AttentionSpec spec = AttentionSpec.causal(2).withScale(0.5);
        double[] lse = AttentionReference.run(t[0], t[1], t[2], null, spec).lse().toDoubleArray();
        for (int i = 0; i < 3; i++) {
            double sum = 0;
            for (int j = 0; j <= i + 1; j++) { // bottom-right causal: query i sees keys 0 .. i + (4 − 3)
                sum += Math.exp(0.5 * (q[2 * i] * k[2 * j] + q[2 * i + 1] * k[2 * j + 1]));
            }
            assertEquals(Math.log(sum), lse[i], 1e-12, "lse of query " + i);
        }
    }
}
