package ai.fulgur.ops.attention;

import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.random.Philox;

/**
 * The slow, obvious attention, for tests only: materialises S = q·kᵀ·scale and P = softmax(S) for each (sequence,
 * head) in double precision, with exactly the masks and dropout of {@link AttentionSpec}. Block-sparse layouts act as
 * an extra mask. Rows with no visible key give zeros, as the flash kernels do.
 */
public final class NaiveAttention {
    private NaiveAttention() {}

    /** Whether dropout keeps P[s, h, i, j] (see {@link AttentionSpec}); always true without dropout. */
    public static boolean keep(AttentionSpec spec, int sequence, int head, int heads, long i, long j, long nkAlign) {
        if (spec.dropoutP() == 0) {
            return true;
        }
        int stream = sequence * heads + head;
        return Philox.uniform(spec.seed(), stream, spec.offset() + i * nkAlign + j) >= (float) spec.dropoutP();
    }

    /** Whether query i sees key j in head h of sequence s, all masks and the block layout included. */
    public static boolean visible(AttentionSpec spec, Sequences seqs, int s, int head, long i, long j) {
        if (!seqs.visible(spec, s, i, j)) {
            return false;
        }
        BlockSparseLayout layout = spec.layout();
        return layout == null || layout.isSet(head, (int) (i / layout.blockSize()), (int) (j / layout.blockSize()));
    }

    /** The attention output in float64, shaped like q (same layout rules as {@link AttentionKernels}). */
    public static Tensor forward(Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        Sequences seqs = Sequences.of(q, k, spec);
        int hq = (int) q.shape().dim(2);
        int hkv = (int) k.shape().dim(2);
        int d = (int) q.shape().dim(3);
        double[] out = new double[(int) q.numel()];
        double[] qd = q.contiguous().toDoubleArray();
        double[] kd = k.contiguous().toDoubleArray();
        double[] vd = v.contiguous().toDoubleArray();
        long nqAll = q.shape().dim(1);
        long nkAll = k.shape().dim(1);
        for (int s = 0; s < seqs.count(); s++) {
            int b = seqs.batchIndex()[s];
            for (int h = 0; h < hq; h++) {
                int kvh = h / (hq / hkv);
                for (long i = 0; i < seqs.nq()[s]; i++) {
                    long qRow = b * nqAll + seqs.qStart()[s] + i;
                    int nk = (int) seqs.nkAlign()[s];
                    double[] p = new double[nk];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < nk; j++) {
                        if (!visible(spec, seqs, s, h, i, j)) {
                            p[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        long kRow = b * nkAll + seqs.kStart()[s] + j;
                        double dot = 0;
                        for (int c = 0; c < d; c++) {
                            dot += qd[(int) ((qRow * hq + h) * d + c)] * kd[(int) ((kRow * hkv + kvh) * d + c)];
                        }
                        p[j] = dot * spec.softmaxScale();
                        max = Math.max(max, p[j]);
                    }
                    if (max == Double.NEGATIVE_INFINITY) {
                        continue; // no visible key: the row stays zero
                    }
                    double sum = 0;
                    for (int j = 0; j < nk; j++) {
                        p[j] = Math.exp(p[j] - max);
                        sum += p[j];
                    }
                    for (int j = 0; j < nk; j++) {
                        if (p[j] == 0) {
                            continue;
                        }
                        double w = p[j] / sum;
                        if (spec.dropoutP() > 0) {
                            w = keep(spec, s, h, hq, i, j, nk) ? w / (1 - spec.dropoutP()) : 0;
                        }
                        long kRow = b * nkAll + seqs.kStart()[s] + j;
                        for (int c = 0; c < d; c++) {
                            out[(int) ((qRow * hq + h) * d + c)] += w * vd[(int) ((kRow * hkv + kvh) * d + c)];
                        }
                    }
                }
            }
        }
        return Tensor.of(out, q.shape().dims());
    }

    /** Shape helper for tests: the (B, Hq, Nq) shape of the logsumexp. */
    public static Shape lseShape(Tensor q) {
        return Shape.of(q.shape().dim(0), q.shape().dim(2), q.shape().dim(1));
    }
}
