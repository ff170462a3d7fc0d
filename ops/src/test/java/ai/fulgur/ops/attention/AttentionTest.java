package ai.fulgur.ops.attention;

import static ai.fulgur.ops.attention.AttentionAsserts.F32_REL;
import static ai.fulgur.ops.attention.AttentionAsserts.assertIdentical;
import static ai.fulgur.ops.attention.AttentionAsserts.assertNear;
import static ai.fulgur.ops.attention.AttentionAsserts.checkAgainstReference;
import static ai.fulgur.ops.attention.AttentionAsserts.flash;
import static ai.fulgur.ops.attention.AttentionAsserts.operands;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionAsserts.Checked;
import ai.fulgur.ops.attention.AttentionAsserts.Flash;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.testing.TestTensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The CPU FlashAttention kernels, through {@link Attention#flashForward} and {@link Attention#flashBackward}, against
 * the float64 references: the output against {@link NaiveAttention}, and output, logsumexp and the three gradients
 * against {@link AttentionReference}, with the F32 tolerance of {@link AttentionAsserts} (1e-5 of each tensor's
 * largest entry). Covers lengths that do not divide the 64-row tile, Nq ≠ Nk both ways, head dims, batches,
 * grouped-query and multi-query heads, sliding windows, key padding, packed variable-length batches, dropout and
 * strided operands. Block-sparse layouts, low precision and errors have their own test classes.
 */
class AttentionTest {

    // ---------------------------------------------------------------------------------------------------------------
    // the masks' semantics, drawn by hand (the references use AttentionSpec.visible, so it is checked on its own)

    /** Row i, column j: '#' if key j is visible from query i. */
    private static String draw(AttentionSpec spec, Sequences seqs, int s) {
        StringBuilder sb = new StringBuilder();
        for (long i = 0; i < seqs.nq()[s]; i++) {
            for (long j = 0; j < seqs.nkAlign()[s]; j++) {
                sb.append(seqs.visible(spec, s, i, j) ? '#' : '.');
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static Sequences shapes(long b, long nq, long nk, AttentionSpec spec) {
        return Sequences.of(Tensor.zeros(Shape.of(b, nq, 1, 1), DType.F32, Device.CPU),
                Tensor.zeros(Shape.of(b, nk, 1, 1), DType.F32, Device.CPU), spec);
    }

    @Test
    void causalMaskIsAlignedBottomRight() {
        AttentionSpec causal = AttentionSpec.causal(1);
        // fewer queries than keys (decoding with a cache): the last query sees every key
        assertEquals("""
                ###.
                ####
                """, draw(causal, shapes(1, 2, 4, causal), 0));
        // more queries than keys: the first nq − nk queries see nothing
        assertEquals("""
                ..
                ..
                #.
                ##
                """, draw(causal, shapes(1, 4, 2, causal), 0));
        AttentionSpec window = AttentionSpec.dense(1).withWindow(1, 0);
        assertEquals("""
                #...
                ##..
                .##.
                ..##
                """, draw(window, shapes(1, 4, 4, window), 0));
        AttentionSpec twoSided = AttentionSpec.dense(1).withWindow(0, 1);
        assertEquals("""
                ..##
                ...#
                """, draw(twoSided, shapes(1, 2, 4, twoSided), 0));
        AttentionSpec padded = AttentionSpec.causal(1).withKeyLengths(Tensor.of(new long[] {2, 0}, 2));
        Sequences seqs = shapes(2, 3, 3, padded);
        assertEquals("""
                #..
                ##.
                ##.
                """, draw(padded, seqs, 0));
        assertEquals("""
                ...
                ...
                ...
                """, draw(padded, seqs, 1));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // dense attention

    @ParameterizedTest(name = "N = {0}, causal {1}")
    @CsvSource({"1, false", "1, true", "7, false", "7, true", "63, false", "63, true", "65, false", "65, true",
            "113, false", "113, true", "203, false", "203, true"})
    void lengthsThatDoNotDivideTheTile(int n, boolean causal) {
        AttentionSpec spec = AttentionSpec.dense(64).withCausal(causal);
        Checked c = checkAgainstReference("N " + n, operands(n, DType.F32, 2, n, n, 2, 2, 64), spec);
        assertEquals(0, c.emptyRows(), "square attention leaves no row without keys");
    }

    @ParameterizedTest(name = "Nq = {0}, Nk = {1}, causal {2}")
    @CsvSource({"65, 203, false", "65, 203, true", "203, 65, false", "203, 65, true", "1, 113, true",
            "113, 1, true", "7, 63, true", "130, 64, true"})
    void queriesAndKeysOfDifferentLengths(int nq, int nk, boolean causal) {
        AttentionSpec spec = AttentionSpec.dense(32).withCausal(causal);
        Checked c = checkAgainstReference("Nq " + nq + ", Nk " + nk, operands(nq + 7L * nk, DType.F32, 2, nq, nk, 2, 2,
                32), spec);
        // bottom-right alignment: with more queries than keys, the first nq − nk queries of every (b, h) see nothing
        int expectedEmpty = causal && nq > nk ? 2 * 2 * (nq - nk) : 0;
        assertEquals(expectedEmpty, c.emptyRows(), "rows without keys");
    }

    @ParameterizedTest(name = "D = {0}")
    @ValueSource(ints = {32, 40, 64, 128, 3, 256})
    void headDims(int d) {
        int n = d == 256 ? 65 : 113;
        checkAgainstReference("D " + d, operands(d, DType.F32, 1, n, n + 20, 2, 2, d), AttentionSpec.causal(d));
        checkAgainstReference("D " + d + " dense", operands(d + 1, DType.F32, 1, n, n, 2, 2, d),
                AttentionSpec.dense(d));
    }

    @Test
    void batchOfThreeWithAnUnusualScale() {
        AttentionSpec spec = AttentionSpec.causal(64).withScale(0.31);
        checkAgainstReference("B 3", operands(3, DType.F32, 3, 100, 100, 3, 3, 64), spec);
    }

    @ParameterizedTest(name = "Hq = {0}, Hkv = {1}, causal {2}")
    @CsvSource({"8, 2, false", "8, 2, true", "8, 1, false", "8, 1, true", "4, 4, true"})
    void groupedAndMultiQueryHeads(int hq, int hkv, boolean causal) {
        AttentionSpec spec = AttentionSpec.dense(32).withCausal(causal);
        checkAgainstReference("Hq " + hq + ", Hkv " + hkv, operands(hq * 10L + hkv, DType.F32, 2, 70, 113, hq, hkv, 32),
                spec);
    }

    @ParameterizedTest(name = "window ({0}, {1}), causal {2}, Nq {3}, Nk {4}")
    @CsvSource({"16, 16, false, 203, 203", "0, 0, false, 113, 113", "40, -1, false, 203, 203",
            "-1, 8, false, 113, 113", "24, 0, true, 203, 203", "0, 0, true, 65, 65", "70, 0, true, 65, 203",
            "10, 5, false, 203, 65", "3, 2, false, 150, 20"})
    void slidingWindows(int left, int right, boolean causal, int nq, int nk) {
        AttentionSpec spec = AttentionSpec.dense(64).withWindow(left, right).withCausal(causal);
        if (causal) {
            assertEquals(0, spec.windowRight(), "causal is the window (left, 0)");
        }
        Checked c = checkAgainstReference("window (" + left + ", " + right + ")",
                operands(left * 1000L + right + nq, DType.F32, 1, nq, nk, 2, 1, 64), spec);
        if (nq > nk + 3 && right >= 0) {
            assertTrue(c.emptyRows() > 0, "queries above the window's reach must see no key");
        }
    }

    @ParameterizedTest(name = "causal {0}, window {1}")
    @CsvSource({"false, -1", "true, -1", "false, 30"})
    void keyPaddingWithEmptyAndFullSequences(boolean causal, int window) {
        int nq = 113;
        int nk = 150;
        Tensor lengths = Tensor.of(new int[] {0, 37, nk, 64}, 4);
        AttentionSpec spec = AttentionSpec.dense(40).withWindow(window, window).withCausal(causal)
                .withKeyLengths(lengths);
        Checked c = checkAgainstReference("keyLengths", operands(nq + window, DType.F32, 4, nq, nk, 2, 2, 40), spec);
        assertTrue(c.emptyRows() >= 2 * nq, "sequence 0 has no keys: all its " + 2 * nq + " rows are empty, got "
                + c.emptyRows());
        // keys at or beyond a sequence's length get no gradient
        double[] dk = c.flash().dk().toDoubleArray();
        double[] dv = c.flash().dv().toDoubleArray();
        int[] valid = {0, 37, nk, 64};
        for (int b = 0; b < 4; b++) {
            for (int j = valid[b]; j < nk; j++) {
                for (int e = 0; e < 2 * 40; e++) {
                    int at = (b * nk + j) * 2 * 40 + e;
                    if (dk[at] != 0 || dv[at] != 0) {
                        throw new AssertionError("padded key (b " + b + ", j " + j + ") has dk " + dk[at] + ", dv "
                                + dv[at] + ", expected 0");
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // packed variable-length batches

    @ParameterizedTest(name = "causal {0}")
    @ValueSource(booleans = {false, true})
    void packedBatchEqualsEachSequenceAlone(boolean causal) {
        // sequence 1 has keys but no queries, sequence 4 queries but no keys, sequence 3 more queries than keys
        long[] lq = {5, 0, 70, 130, 3, 64};
        long[] lk = {9, 4, 70, 64, 0, 200};
        long[] cuQ = new long[lq.length + 1];
        long[] cuK = new long[lk.length + 1];
        for (int s = 0; s < lq.length; s++) {
            cuQ[s + 1] = cuQ[s] + lq[s];
            cuK[s + 1] = cuK[s] + lk[s];
        }
        int hq = 4;
        int hkv = 2;
        int d = 32;
        Tensor[] t = operands(causal ? 11 : 12, DType.F32, 1, cuQ[lq.length], cuK[lk.length], hq, hkv, d);
        AttentionSpec base = AttentionSpec.dense(d).withCausal(causal);
        AttentionSpec spec = base.withPacked(Tensor.of(cuQ, cuQ.length), Tensor.of(toInts(cuK), cuK.length));
        Checked c = checkAgainstReference("packed", t, spec);
        long expectedEmpty = hq * (lq[4] + (causal ? lq[3] - lk[3] : 0));
        assertEquals(expectedEmpty, c.emptyRows(), "rows without keys");

        Flash packed = c.flash();
        for (int s = 0; s < lq.length; s++) {
            Tensor q = t[0].slice(1, cuQ[s], cuQ[s + 1]);
            Tensor k = t[1].slice(1, cuK[s], cuK[s + 1]);
            Tensor v = t[2].slice(1, cuK[s], cuK[s + 1]);
            Tensor dout = t[3].slice(1, cuQ[s], cuQ[s + 1]);
            if (lq[s] == 0 || lk[s] == 0) {
                // no queries: the keys get no gradient; no keys: covered by the empty-row count above
                double[] dk = packed.dk().slice(1, cuK[s], cuK[s + 1]).toDoubleArray();
                for (double x : dk) {
                    assertEquals(0.0, x, "dk of a sequence without queries");
                }
                continue;
            }
            Flash alone = flash(q, k, v, dout, base);
            String what = "sequence " + s + " (" + lq[s] + " queries, " + lk[s] + " keys)";
            assertNear(what + ": out", alone.out(), packed.out().slice(1, cuQ[s], cuQ[s + 1]), 1e-6);
            assertNear(what + ": lse", alone.lse(), packed.lse().slice(2, cuQ[s], cuQ[s + 1]), 1e-6);
            assertNear(what + ": dq", alone.dq(), packed.dq().slice(1, cuQ[s], cuQ[s + 1]), 1e-6);
            assertNear(what + ": dk", alone.dk(), packed.dk().slice(1, cuK[s], cuK[s + 1]), 1e-6);
            assertNear(what + ": dv", alone.dv(), packed.dv().slice(1, cuK[s], cuK[s + 1]), 1e-6);
        }
    }

    private static int[] toInts(long[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (int) v[i];
        }
        return out;
    }

    @Test
    void packedBatchWithDropoutAndWindow() {
        long[] cu = {0, 50, 50, 163};
        AttentionSpec spec = AttentionSpec.dense(64).withWindow(20, 3).withDropout(0.2, 99, 7)
                .withPacked(Tensor.of(cu, 4), Tensor.of(new long[] {0, 70, 71, 140}, 4));
        checkAgainstReference("packed + dropout", operands(5, DType.F32, 1, 163, 140, 2, 1, 64), spec);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // dropout

    @ParameterizedTest(name = "p = {0}, causal {1}")
    @CsvSource({"0.1, false", "0.1, true", "0.5, false", "0.5, true"})
    void dropoutMatchesTheReferenceAndIsReproducible(double p, boolean causal) {
        AttentionSpec spec = AttentionSpec.dense(64).withCausal(causal).withDropout(p, 1234, 77)
                .withKeyLengths(Tensor.of(new long[] {130, 90}, 2));
        Tensor[] t = operands((long) (p * 100), DType.F32, 2, 113, 130, 4, 2, 64);
        Flash first = checkAgainstReference("dropout " + p, t, spec).flash();

        // the kept fraction of visible entries is about 1 − p (the mask really drops)
        Sequences seqs = Sequences.of(t[0], t[1], spec);
        long visible = 0;
        long kept = 0;
        for (int s = 0; s < seqs.count(); s++) {
            for (int h = 0; h < 4; h++) {
                for (long i = 0; i < 113; i++) {
                    for (long j = 0; j < 130; j++) {
                        if (seqs.visible(spec, s, i, j)) {
                            visible++;
                            kept += NaiveAttention.keep(spec, s, h, 4, i, j, 130) ? 1 : 0;
                        }
                    }
                }
            }
        }
        double keptFraction = (double) kept / visible;
        assertEquals(1 - p, keptFraction, 0.01, "kept fraction over " + visible + " visible entries");

        // the same seed and offset reproduce every bit; another offset gives another mask
        Flash again = flash(t[0], t[1], t[2], t[3], spec);
        assertIdentical("out, same seed and offset", first.out(), again.out());
        assertIdentical("dq, same seed and offset", first.dq(), again.dq());
        assertIdentical("dk, same seed and offset", first.dk(), again.dk());
        assertIdentical("dv, same seed and offset", first.dv(), again.dv());
        Flash other = flash(t[0], t[1], t[2], t[3], spec.withDropout(p, 1234, 78));
        double diff = AttentionAsserts.maxDiff(first.out(), other.out());
        assertTrue(diff > 0.01, "another offset should change the output, max diff " + diff);
        Flash otherSeed = flash(t[0], t[1], t[2], t[3], spec.withDropout(p, 1235, 77));
        double seedDiff = AttentionAsserts.maxDiff(first.out(), otherSeed.out());
        assertTrue(seedDiff > 0.01, "another seed should change the output, max diff " + seedDiff);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // strided operands

    @Test
    void slicesOfOnePackedQkvBuffer() {
        int b = 2;
        int n = 113;
        int h = 3;
        int d = 64;
        SplittableRandom rnd = new SplittableRandom(3);
        Tensor qkv = TestTensors.normal(rnd, DType.F32, b, n, 3 * h, d); // (B, N, 3H, D), as a fused projection gives
        Tensor q = qkv.slice(2, 0, h);
        Tensor k = qkv.slice(2, h, 2 * h);
        Tensor v = qkv.slice(2, 2 * h, 3 * h);
        Tensor dout = TestTensors.normal(rnd, DType.F32, b, n, 2 * h, d).slice(2, h, 2 * h);
        assertTrue(!q.isContiguous() && !k.isContiguous() && !dout.isContiguous(), "the operands must be strided");
        AttentionSpec spec = AttentionSpec.causal(d);
        Flash strided = checkAgainstReference("qkv slices", new Tensor[] {q, k, v, dout}, spec).flash();
        Flash copies = flash(q.contiguous(), k.contiguous(), v.contiguous(), dout.contiguous(), spec);
        assertIdentical("out, strided vs contiguous", copies.out(), strided.out());
        assertIdentical("lse, strided vs contiguous", copies.lse(), strided.lse());
        assertIdentical("dq, strided vs contiguous", copies.dq(), strided.dq());
        assertIdentical("dk, strided vs contiguous", copies.dk(), strided.dk());
        assertIdentical("dv, strided vs contiguous", copies.dv(), strided.dv());
    }

    @Test
    void transposedHeadMajorViews() {
        int b = 2;
        int h = 4;
        int nq = 65;
        int nk = 130;
        int d = 32;
        SplittableRandom rnd = new SplittableRandom(4);
        // (B, H, N, D) buffers viewed as (B, N, H, D)
        Tensor q = TestTensors.normal(rnd, DType.F32, b, h, nq, d).transpose(1, 2);
        Tensor k = TestTensors.normal(rnd, DType.F32, b, 2, nk, d).transpose(1, 2);
        Tensor v = TestTensors.normal(rnd, DType.F32, b, 2, nk, d).transpose(1, 2);
        Tensor dout = TestTensors.normal(rnd, DType.F32, b, h, nq, d).transpose(1, 2);
        // and a value tensor whose head dim is not contiguous: the facade must copy it
        Tensor vCols = v.contiguous().permute(0, 1, 3, 2).contiguous().permute(0, 1, 3, 2);
        assertEquals(2, vCols.stride(3), "v with stride 2 on the head dim");
        AttentionSpec spec = AttentionSpec.causal(d).withWindow(50, 0);
        Flash views = checkAgainstReference("transposed views", new Tensor[] {q, k, vCols, dout}, spec).flash();
        Flash copies = flash(q.contiguous(), k.contiguous(), v.contiguous(), dout.contiguous(), spec);
        assertIdentical("out, views vs contiguous", copies.out(), views.out());
        assertIdentical("dq, views vs contiguous", copies.dq(), views.dq());
        assertIdentical("dk, views vs contiguous", copies.dk(), views.dk());
        assertIdentical("dv, views vs contiguous", copies.dv(), views.dv());
        assertTrue(views.out().isContiguous() && views.dk().isContiguous(), "results are contiguous");
    }

    @Test
    void backwardIsDeterministicAndLinearInDout() {
        Tensor[] t = operands(8, DType.F32, 1, 203, 203, 2, 1, 64);
        AttentionSpec spec = AttentionSpec.causal(64);
        Flash a = flash(t[0], t[1], t[2], t[3], spec);
        Flash b = flash(t[0], t[1], t[2], t[3], spec);
        assertIdentical("dq, two runs", a.dq(), b.dq());
        assertIdentical("dk, two runs", a.dk(), b.dk());
        // scaling dout by 2 doubles every gradient
        Tensor dout2 = Elementwise.mulScalar(t[3], 2);
        Attention.Gradients g = Attention.flashBackward(dout2, t[0], t[1], t[2], a.out(), a.lse(), spec);
        assertNear("dq for 2·dout", Elementwise.mulScalar(a.dq(), 2), g.dq(), F32_REL);
        assertNear("dv for 2·dout", Elementwise.mulScalar(a.dv(), 2), g.dv(), F32_REL);
    }
}
