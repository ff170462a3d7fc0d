package ai.fulgur.ops.cpu;

import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.indexing.IndexingKernels;

/** Gathers and scatter-adds on the host. Scatter-adds run serially per output slice so repeated indices add safely. */
public final class CpuIndexing implements IndexingKernels {

    // out (P, I, Q), x (P, N, Q), index (I)
    @Override
    public void indexSelect(Tensor out, Tensor x, Tensor index, int axis) {
        CpuStorage os = out.cpu();
        CpuStorage xs = x.cpu();
        CpuStorage is = index.cpu();
        int p = (int) x.shape().dim(0);
        int n = (int) x.shape().dim(1);
        int q = (int) x.shape().dim(2);
        int count = (int) index.numel();
        boolean longMath = !x.dtype().isFloating();
        CpuParallel.forRange(p * count, Math.max(1, 8192 / Math.max(1, q)), (k0, k1) -> {
            for (int k = k0; k < k1; k++) {
                int pi = k / count;
                int ii = k % count;
                int row = (int) is.getLong((int) index.offset() + ii);
                int src = (int) x.offset() + (pi * n + row) * q;
                int dst = (int) out.offset() + k * q;
                for (int j = 0; j < q; j++) {
                    if (longMath) {
                        os.setLong(dst + j, xs.getLong(src + j));
                    } else {
                        os.set(dst + j, xs.get(src + j));
                    }
                }
            }
        });
    }

    // dx (P, N, Q) += src (P, I, Q) at index (I)
    @Override
    public void indexAdd(Tensor dx, Tensor src, Tensor index, int axis) {
        CpuStorage ds = dx.cpu();
        CpuStorage ss = src.cpu();
        CpuStorage is = index.cpu();
        int p = (int) dx.shape().dim(0);
        int n = (int) dx.shape().dim(1);
        int q = (int) dx.shape().dim(2);
        int count = (int) index.numel();
        // parallel over columns q: each task owns its columns, so repeated rows never race
        CpuParallel.forRange(q, Math.max(1, 8192 / Math.max(1, p * count)), (j0, j1) -> {
            for (int pi = 0; pi < p; pi++) {
                for (int ii = 0; ii < count; ii++) {
                    int row = (int) is.getLong((int) index.offset() + ii);
                    int d = (int) dx.offset() + (pi * n + row) * q;
                    int s = (int) src.offset() + (pi * count + ii) * q;
                    for (int j = j0; j < j1; j++) {
                        ds.set(d + j, ds.get(d + j) + ss.get(s + j));
                    }
                }
            }
        });
    }

    @Override
    public void gather(Tensor out, Tensor x, Tensor index, int axis) {
        CpuStorage os = out.cpu();
        CpuStorage xs = x.cpu();
        CpuStorage is = index.cpu();
        long[] xStrides = x.strides();
        int rank = index.rank();
        long[] dims = index.shape().dims();
        int total = (int) index.numel();
        boolean longMath = !x.dtype().isFloating();
        CpuParallel.forRange(total, 8192, (e0, e1) -> {
            for (int e = e0; e < e1; e++) {
                long rem = e;
                long pos = x.offset();
                for (int a = rank - 1; a >= 0; a--) {
                    long i = rem % dims[a];
                    rem /= dims[a];
                    if (a != axis) {
                        pos += i * xStrides[a];
                    }
                }
                long k = is.getLong((int) index.offset() + e);
                pos += k * xStrides[axis];
                if (longMath) {
                    os.setLong((int) out.offset() + e, xs.getLong((int) pos));
                } else {
                    os.set((int) out.offset() + e, xs.get((int) pos));
                }
            }
        });
    }

    @Override
    public void scatterAdd(Tensor dx, Tensor src, Tensor index, int axis) {
        CpuStorage ds = dx.cpu();
        CpuStorage ss = src.cpu();
        CpuStorage is = index.cpu();
        long[] dStrides = dx.strides();
        int rank = index.rank();
        long[] dims = index.shape().dims();
        int total = (int) index.numel();
        // serial: different source elements may land on the same target
        for (int e = 0; e < total; e++) {
            long rem = e;
            long pos = dx.offset();
            for (int a = rank - 1; a >= 0; a--) {
                long i = rem % dims[a];
                rem /= dims[a];
                if (a != axis) {
                    pos += i * dStrides[a];
                }
            }
            pos += is.getLong((int) index.offset() + e) * dStrides[axis];
            ds.set((int) pos, ds.get((int) pos) + ss.get((int) src.offset() + e));
        }
    }
}
