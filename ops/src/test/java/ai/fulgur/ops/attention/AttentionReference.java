package ai.fulgur.ops.attention;

import ai.fulgur.ops.Tensor;
import java.util.function.DoubleUnaryOperator;

/**
 * The float64 reference of attention's forward and backward passes for the tests: for each (sequence, query head,
 * query row) it materialises the row of S = q·kᵀ·scale and P = softmax(S) with the masks of {@link NaiveAttention}
 * (masks, key padding, packed sequences, block layout, dropout mask), then differentiates L = Σ out ∘ dout by hand:
 *
 * <pre>
 *   P̃ = P ∘ Z / (1 − p)           (Z the dropout keep mask)        out = P̃ v
 *   dV += P̃ᵀ dO                   dP = dO vᵀ,  dP̃ = dP ∘ Z / (1 − p)
 *   D = rowsum(dO ∘ out)           dS = P ∘ (dP̃ − D)
 *   dQ = scale · dS k              dK += scale · dSᵀ q               (dK, dV summed over a GQA group's query heads)
 * </pre>
 *
 * A row with no visible key has out 0, lse +∞ and contributes no gradient.
 *
 * <p>{@code round} is applied to S, P, out, dP and dS and to the final gradients; the identity gives the float64
 * reference, a BF16/F16 rounding gives the "naive attention in the same low precision" that FlashAttention's tests
 * measure a kernel's error against (products accumulated exactly, stages rounded, as a half-precision matmul with
 * F32 accumulation does).
 *
 * <p>{@link AttentionReferenceTest} checks it against central differences and against {@link NaiveAttention}; the
 * row helpers at the end serve spot checks at lengths where the full reference would be too slow.
 */
final class AttentionReference {
    private AttentionReference() {}

    /** out (q's shape), lse (B, Hq, Nq), and the gradients when a dout was given (else null), all F64. */
    record Result(Tensor out, Tensor lse, Tensor dq, Tensor dk, Tensor dv) {}

    static Result run(Tensor q, Tensor k, Tensor v, Tensor dout, AttentionSpec spec) {
        return run(q, k, v, dout, spec, DoubleUnaryOperator.identity());
    }

    static Result run(Tensor q, Tensor k, Tensor v, Tensor dout, AttentionSpec spec, DoubleUnaryOperator round) {
        Sequences seqs = Sequences.of(q, k, spec);
        int hq = (int) q.shape().dim(2);
        int hkv = (int) k.shape().dim(2);
        int d = (int) q.shape().dim(3);
        long nqAll = q.shape().dim(1);
        long nkAll = k.shape().dim(1);
        int batch = (int) q.shape().dim(0);
        double[] qd = q.toDoubleArray();
        double[] kd = k.toDoubleArray();
        double[] vd = v.toDoubleArray();
        double[] dod = dout == null ? null : dout.toDoubleArray();
        double[] out = new double[qd.length];
        double[] lse = new double[(int) (batch * hq * nqAll)];
        java.util.Arrays.fill(lse, Double.POSITIVE_INFINITY);
        double[] dq = new double[qd.length];
        double[] dk = new double[kd.length];
        double[] dv = new double[vd.length];
        double keepScale = 1 / (1 - spec.dropoutP());
        double scale = spec.softmaxScale();
        for (int s = 0; s < seqs.count(); s++) {
            int b = seqs.batchIndex()[s];
            int nk = (int) seqs.nkAlign()[s];
            double[] p = new double[nk];
            double[] pKept = new double[nk];
            boolean[] keep = new boolean[nk];
            for (int h = 0; h < hq; h++) {
                int kvh = h / (hq / hkv);
                for (long i = 0; i < seqs.nq()[s]; i++) {
                    long qRow = b * nqAll + seqs.qStart()[s] + i;
                    int qo = (int) ((qRow * hq + h) * d);
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < nk; j++) {
                        if (!NaiveAttention.visible(spec, seqs, s, h, i, j)) {
                            p[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        int ko = kOffset(b, nkAll, seqs.kStart()[s] + j, hkv, kvh, d);
                        double dot = 0;
                        for (int c = 0; c < d; c++) {
                            dot += qd[qo + c] * kd[ko + c];
                        }
                        p[j] = round.applyAsDouble(dot * scale);
                        max = Math.max(max, p[j]);
                    }
                    if (max == Double.NEGATIVE_INFINITY) {
                        continue; // no visible key: out 0, lse +inf, no gradient
                    }
                    double sum = 0;
                    for (int j = 0; j < nk; j++) {
                        p[j] = Math.exp(p[j] - max);
                        sum += p[j];
                    }
                    lse[(int) (((long) b * hq + h) * nqAll + seqs.qStart()[s] + i)] = max + Math.log(sum);
                    double[] o = new double[d];
                    for (int j = 0; j < nk; j++) {
                        p[j] = round.applyAsDouble(p[j] / sum);
                        keep[j] = NaiveAttention.keep(spec, s, h, hq, i, j, nk);
                        pKept[j] = keep[j] ? p[j] * keepScale : 0;
                        if (pKept[j] != 0) {
                            int vo = kOffset(b, nkAll, seqs.kStart()[s] + j, hkv, kvh, d);
                            for (int c = 0; c < d; c++) {
                                o[c] += pKept[j] * vd[vo + c];
                            }
                        }
                    }
                    for (int c = 0; c < d; c++) {
                        o[c] = round.applyAsDouble(o[c]);
                        out[qo + c] = o[c];
                    }
                    if (dod == null) {
                        continue;
                    }
                    double delta = 0; // D = rowsum(dO ∘ out)
                    for (int c = 0; c < d; c++) {
                        delta += dod[qo + c] * o[c];
                    }
                    for (int j = 0; j < nk; j++) {
                        if (p[j] == 0) {
                            continue;
                        }
                        int ko = kOffset(b, nkAll, seqs.kStart()[s] + j, hkv, kvh, d);
                        double dp = 0;
                        for (int c = 0; c < d; c++) {
                            dp += dod[qo + c] * vd[ko + c];
                            dv[ko + c] += pKept[j] * dod[qo + c];
                        }
                        dp = round.applyAsDouble(dp);
                        double dpKept = keep[j] ? dp * keepScale : 0;
                        double ds = round.applyAsDouble(p[j] * (dpKept - delta));
                        for (int c = 0; c < d; c++) {
                            dq[qo + c] += scale * ds * kd[ko + c];
                            dk[ko + c] += scale * ds * qd[qo + c];
                        }
                    }
                }
            }
        }
        long[] lseShape = {batch, hq, nqAll};
        if (dod == null) {
            return new Result(Tensor.of(out, q.shape().dims()), Tensor.of(lse, lseShape), null, null, null);
        }
        for (double[] g : new double[][] {dq, dk, dv}) {
            for (int i = 0; i < g.length; i++) {
                g[i] = round.applyAsDouble(g[i]);
            }
        }
        return new Result(Tensor.of(out, q.shape().dims()), Tensor.of(lse, lseShape), Tensor.of(dq, q.shape().dims()),
                Tensor.of(dk, k.shape().dims()), Tensor.of(dv, v.shape().dims()));
    }

    /** Element offset of (batch b, key row, head) in a contiguous (B, Nk, Hkv, D) array. */
    private static int kOffset(int b, long nkAll, long row, int hkv, int h, int d) {
        return (int) (((b * nkAll + row) * hkv + h) * d);
    }

    /**
     * The attention output of the selected query rows only (dense single sequence, B = 1, no dropout or layout
     * beyond the spec's masks), O(Nk·D) per row: for spot checks where the full reference would be O(N²·D).
     * Returns [row][head][c] for q (1, N, H, D).
     */
    static double[][][] outputRows(Tensor q, Tensor k, Tensor v, AttentionSpec spec, long[] rows) {
        Sequences seqs = Sequences.of(q, k, spec);
        int hq = (int) q.shape().dim(2);
        int hkv = (int) k.shape().dim(2);
        int d = (int) q.shape().dim(3);
        int nk = (int) k.shape().dim(1);
        float[] kd = k.contiguous().toFloatArray();
        float[] vd = v.contiguous().toFloatArray();
        double[][][] result = new double[rows.length][hq][d];
        for (int r = 0; r < rows.length; r++) {
            long i = rows[r];
            double[] qRow = q.slice(1, i, i + 1).contiguous().toDoubleArray(); // (1, 1, H, D)
            for (int h = 0; h < hq; h++) {
                int kvh = h / (hq / hkv);
                double[] sc = new double[nk];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < nk; j++) {
                    if (!NaiveAttention.visible(spec, seqs, 0, h, i, j)) {
                        sc[j] = Double.NEGATIVE_INFINITY;
                        continue;
                    }
                    double dot = 0;
                    for (int c = 0; c < d; c++) {
                        dot += qRow[h * d + c] * kd[(j * hkv + kvh) * d + c];
                    }
                    sc[j] = dot * spec.softmaxScale();
                    max = Math.max(max, sc[j]);
                }
                if (max == Double.NEGATIVE_INFINITY) {
                    continue;
                }
                double sum = 0;
                for (int j = 0; j < nk; j++) {
                    sc[j] = Math.exp(sc[j] - max);
                    sum += sc[j];
                }
                for (int j = 0; j < nk; j++) {
                    if (sc[j] == 0) {
                        continue;
                    }
                    double w = sc[j] / sum;
                    for (int c = 0; c < d; c++) {
                        result[r][h][c] += w * vd[(j * hkv + kvh) * d + c];
                    }
                }
            }
        }
        return result;
    }

    /**
     * dq of the selected query rows (dense single sequence, B = 1, no dropout), O(Nk·D) per row: dq_i = scale Σ_j
     * P_ij (dO_i·v_j − D_i) k_j with D_i = dO_i·out_i and P recomputed from the row's own softmax. Returns
     * [row][head][c].
     */
    static double[][][] dqRows(Tensor q, Tensor k, Tensor v, Tensor dout, AttentionSpec spec, long[] rows) {
        Sequences seqs = Sequences.of(q, k, spec);
        int hq = (int) q.shape().dim(2);
        int hkv = (int) k.shape().dim(2);
        int d = (int) q.shape().dim(3);
        int nk = (int) k.shape().dim(1);
        float[] kd = k.contiguous().toFloatArray();
        float[] vd = v.contiguous().toFloatArray();
        double[][][] result = new double[rows.length][hq][d];
        for (int r = 0; r < rows.length; r++) {
            long i = rows[r];
            double[] qRow = q.slice(1, i, i + 1).contiguous().toDoubleArray();
            double[] doRow = dout.slice(1, i, i + 1).contiguous().toDoubleArray();
            for (int h = 0; h < hq; h++) {
                int kvh = h / (hq / hkv);
                double[] sc = new double[nk];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < nk; j++) {
                    if (!NaiveAttention.visible(spec, seqs, 0, h, i, j)) {
                        sc[j] = Double.NEGATIVE_INFINITY;
                        continue;
                    }
                    double dot = 0;
                    for (int c = 0; c < d; c++) {
                        dot += qRow[h * d + c] * kd[(j * hkv + kvh) * d + c];
                    }
                    sc[j] = dot * spec.softmaxScale();
                    max = Math.max(max, sc[j]);
                }
                if (max == Double.NEGATIVE_INFINITY) {
                    continue;
                }
                double sum = 0;
                for (int j = 0; j < nk; j++) {
                    sc[j] = Math.exp(sc[j] - max);
                    sum += sc[j];
                }
                double[] dp = new double[nk];
                double delta = 0; // Σ_j P_ij dP_ij = dO_i · out_i
                for (int j = 0; j < nk; j++) {
                    sc[j] /= sum;
                    if (sc[j] == 0) {
                        continue;
                    }
                    for (int c = 0; c < d; c++) {
                        dp[j] += doRow[h * d + c] * vd[(j * hkv + kvh) * d + c];
                    }
                    delta += sc[j] * dp[j];
                }
                for (int j = 0; j < nk; j++) {
                    if (sc[j] == 0) {
                        continue;
                    }
                    double ds = sc[j] * (dp[j] - delta) * spec.softmaxScale();
                    for (int c = 0; c < d; c++) {
                        result[r][h][c] += ds * kd[(j * hkv + kvh) * d + c];
                    }
                }
            }
        }
        return result;
    }
}
