package ai.fulgur.ops.cpu;

import ai.fulgur.ops.RowPitched;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.loss.LossKernels;

/**
 * Fused cross-entropy on the host: one pass for the row logsumexp, softmax never stored. Logits and dlogits rows are
 * addressed through their row strides (contiguous or row-pitched).
 */
public final class CpuLoss implements LossKernels {

    // losses (R), lse (R), logits (R, V) with row stride ≥ V, targets (R)
    @Override
    public void crossEntropyForward(Tensor losses, Tensor lse, Tensor logits, Tensor targets, long ignoreIndex) {
        CpuStorage ls = losses.cpu();
        CpuStorage es = lse.cpu();
        CpuStorage xs = logits.cpu();
        CpuStorage ts = targets.cpu();
        int v = (int) logits.shape().last();
        int xo = (int) logits.offset();
        int ldx = Math.toIntExact(RowPitched.pitch(logits));
        CpuParallel.forRange((int) logits.shape().rows(), Math.max(1, 8192 / Math.max(1, v)), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xi = xo + r * ldx;
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < v; j++) {
                    max = Math.max(max, xs.get(xi + j));
                }
                double sum = 0;
                for (int j = 0; j < v; j++) {
                    sum += Math.exp(xs.get(xi + j) - max);
                }
                double logSumExp = max + Math.log(sum);
                long t = ts.getLong((int) targets.offset() + r);
                es.set((int) lse.offset() + r, logSumExp);
                ls.set((int) losses.offset() + r, t == ignoreIndex ? 0 : logSumExp - xs.get(xi + (int) t));
            }
        });
    }

    // dlogits (R, V) and logits (R, V), each with its row stride ≥ V; dlosses (R), lse (R), targets (R)
    @Override
    public void crossEntropyBackward(Tensor dlogits, Tensor dlosses, Tensor logits, Tensor lse, Tensor targets,
            long ignoreIndex) {
        CpuStorage ds = dlogits.cpu();
        CpuStorage gs = dlosses.cpu();
        CpuStorage xs = logits.cpu();
        CpuStorage es = lse.cpu();
        CpuStorage ts = targets.cpu();
        int v = (int) logits.shape().last();
        int xo = (int) logits.offset();
        int doff = (int) dlogits.offset();
        int ldx = Math.toIntExact(RowPitched.pitch(logits));
        int ldd = Math.toIntExact(RowPitched.pitch(dlogits));
        CpuParallel.forRange((int) logits.shape().rows(), Math.max(1, 8192 / Math.max(1, v)), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                long t = ts.getLong((int) targets.offset() + r);
                if (t == ignoreIndex) {
                    for (int j = 0; j < v; j++) {
                        ds.set(doff + r * ldd + j, 0);
                    }
                    continue;
                }
                double g = gs.get((int) dlosses.offset() + r);
                double logSumExp = es.get((int) lse.offset() + r);
                for (int j = 0; j < v; j++) {
                    double p = Math.exp(xs.get(xo + r * ldx + j) - logSumExp);
                    ds.set(doff + r * ldd + j, g * (p - (j == t ? 1 : 0)));
                }
            }
        });
    }
}
