package ai.fulgur.ops.cpu;

import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.reduce.ReduceKernels;
import ai.fulgur.ops.reduce.ReduceOp;

/**
 * Reductions on the host: the reduced axes are moved to the end (a permuted view), so each output element reduces
 * one "row" that {@link StridedRows} walks in place. Floating values accumulate in double, integers in long.
 */
public final class CpuReduce implements ReduceKernels {

    @Override
    public void reduce(ReduceOp op, Tensor out, Tensor x, int[] axes) {
        Tensor rowsView = reducedAxesLast(x, axes);
        int kept = x.rank() - axes.length;
        // iterate the kept axes as "rows" of the output, the reduced axes as an inner multi-index
        Tensor keptView = rowsView;
        long inner = 1;
        for (int a : axes) {
            inner *= x.shape().dim(a);
        }
        int count = (int) inner;
        CpuStorage xs = x.cpu();
        CpuStorage os = out.cpu();
        boolean integer = !x.dtype().isFloating() && op != ReduceOp.MEAN;
        int outer = (int) (out.numel());
        long[] keptDims = new long[kept];
        long[] keptStrides = new long[kept];
        for (int i = 0; i < kept; i++) {
            keptDims[i] = keptView.shape().dim(i);
            keptStrides[i] = keptView.stride(i);
        }
        long[] redDims = new long[axes.length];
        long[] redStrides = new long[axes.length];
        for (int i = 0; i < axes.length; i++) {
            redDims[i] = keptView.shape().dim(kept + i);
            redStrides[i] = keptView.stride(kept + i);
        }
        int outBase = (int) out.offset();
        CpuParallel.forRange(outer, Math.max(1, 4096 / Math.max(1, count)), (o0, o1) -> {
            int[] idx = new int[redDims.length];
            for (int o = o0; o < o1; o++) {
                long base = keptView.offset();
                long r = o;
                for (int a = kept - 1; a >= 0; a--) {
                    base += (r % keptDims[a]) * keptStrides[a];
                    r /= keptDims[a];
                }
                java.util.Arrays.fill(idx, 0);
                double acc = op == ReduceOp.PROD ? 1 : op == ReduceOp.MAX ? Double.NEGATIVE_INFINITY
                        : op == ReduceOp.MIN ? Double.POSITIVE_INFINITY : 0;
                long lacc = op == ReduceOp.PROD ? 1 : op == ReduceOp.MAX ? Long.MIN_VALUE
                        : op == ReduceOp.MIN ? Long.MAX_VALUE : 0;
                boolean nan = false;
                long pos = base;
                for (int e = 0; e < count; e++) {
                    int i = (int) pos;
                    if (integer) {
                        long v = xs.getLong(i);
                        lacc = switch (op) {
                            case SUM, MEAN -> lacc + v;
                            case PROD -> lacc * v;
                            case MAX -> Math.max(lacc, v);
                            case MIN -> Math.min(lacc, v);
                        };
                    } else {
                        double v = xs.get(i);
                        nan |= Double.isNaN(v);
                        acc = switch (op) {
                            case SUM, MEAN -> acc + v;
                            case PROD -> acc * v;
                            case MAX -> Math.max(acc, v);
                            case MIN -> Math.min(acc, v);
                        };
                    }
                    // advance the reduced multi-index (last axis fastest)
                    for (int a = redDims.length - 1; a >= 0; a--) {
                        idx[a]++;
                        pos += redStrides[a];
                        if (idx[a] < redDims[a]) {
                            break;
                        }
                        pos -= idx[a] * redStrides[a];
                        idx[a] = 0;
                    }
                }
                if (integer) {
                    os.setLong(outBase + o, lacc);
                } else {
                    if (op == ReduceOp.MEAN) {
                        acc /= count;
                    }
                    os.set(outBase + o, nan && (op == ReduceOp.MAX || op == ReduceOp.MIN) ? Double.NaN : acc);
                }
            }
        });
    }

    @Override
    public void argReduce(boolean max, Tensor out, Tensor x, int axis) {
        Tensor v = reducedAxesLast(x, new int[] {axis});
        int n = (int) x.shape().dim(axis);
        int kept = x.rank() - 1;
        CpuStorage xs = x.cpu();
        CpuStorage os = out.cpu();
        long step = v.rank() == 0 ? 0 : v.stride(v.rank() - 1);
        boolean integer = !x.dtype().isFloating();
        int outer = (int) out.numel();
        CpuParallel.forRange(outer, Math.max(1, 4096 / Math.max(1, n)), (o0, o1) -> {
            for (int o = o0; o < o1; o++) {
                long base = v.offset();
                long r = o;
                for (int a = kept - 1; a >= 0; a--) {
                    base += (r % v.shape().dim(a)) * v.stride(a);
                    r /= v.shape().dim(a);
                }
                int best = 0;
                if (integer) { // in long: as doubles, I64 values past 2^53 would tie
                    long bestValue = xs.getLong((int) base);
                    for (int j = 1; j < n; j++) {
                        long val = xs.getLong((int) (base + j * step));
                        if (max ? val > bestValue : val < bestValue) {
                            best = j;
                            bestValue = val;
                        }
                    }
                } else {
                    double bestValue = xs.get((int) base);
                    for (int j = 1; j < n && !Double.isNaN(bestValue); j++) {
                        double val = xs.get((int) (base + j * step));
                        if (Double.isNaN(val) || (max ? val > bestValue : val < bestValue)) {
                            best = j;
                            bestValue = val;
                        }
                    }
                }
                os.setLong((int) out.offset() + o, best);
            }
        });
    }

    /** A view of x with the given (sorted) axes moved to the end, the others keeping their order. */
    private static Tensor reducedAxesLast(Tensor x, int[] axes) {
        int[] order = new int[x.rank()];
        boolean[] reduced = new boolean[x.rank()];
        for (int a : axes) {
            reduced[a] = true;
        }
        int k = 0;
        for (int i = 0; i < x.rank(); i++) {
            if (!reduced[i]) {
                order[k++] = i;
            }
        }
        for (int a : axes) {
            order[k++] = a;
        }
        return x.permute(order);
    }
}
