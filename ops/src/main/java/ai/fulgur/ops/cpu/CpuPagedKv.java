package ai.fulgur.ops.cpu;

import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.kvcache.PagedAttentionSpec;
import ai.fulgur.ops.kvcache.PagedKvKernels;
import java.util.Arrays;
import java.util.List;

/**
 * The paged KV cache on the host: the readable reference the CUDA kernels are checked against, and what the model
 * runner uses on a CPU. Plain loops; attention accumulates in float64 (two passes: scores and their max, then the
 * exponentials and the weighted values), one task per (sequence, query head). Caches of any floating dtype are read
 * in place, element by element, so a BF16 cache is never widened as a whole.
 *
 * <p>Shapes: caches (numBlocks, blockSize, Hkv, D) contiguous; query and out (T, Hq, D), query possibly strided
 * with a unit stride on D, out contiguous; index tensors I32 and contiguous (the facade sees to it).
 */
public final class CpuPagedKv implements PagedKvKernels {

    // ---------------------------------------------------------------------------------------------------------------
    // element access over the dtypes a cache may hold

    /** Reads {@code n} elements starting at {@code base} of a host storage into {@code dst} as doubles. */
    private static void read(CpuStorage s, int base, int n, double[] dst) {
        switch (s.dtype()) {
            case F32 -> {
                float[] a = s.f32();
                for (int i = 0; i < n; i++) {
                    dst[i] = a[base + i];
                }
            }
            case F64 -> System.arraycopy(s.f64(), base, dst, 0, n);
            case BF16 -> {
                short[] a = (short[]) s.array();
                for (int i = 0; i < n; i++) {
                    dst[i] = HalfFloats.bf16ToFloat(a[base + i]);
                }
            }
            case F16 -> {
                short[] a = (short[]) s.array();
                for (int i = 0; i < n; i++) {
                    dst[i] = HalfFloats.f16ToFloat(a[base + i]);
                }
            }
            default -> throw new IllegalStateException("a KV cache holds floating values, not " + s.dtype());
        }
    }

    /** The values of a contiguous host I32 tensor (which may start at an offset). */
    private static int[] ints(Tensor t) {
        int[] all = t.cpu().i32();
        int off = Math.toIntExact(t.offset());
        int n = Math.toIntExact(t.numel());
        if (off == 0 && n == all.length) {
            return all;
        }
        int[] out = new int[n];
        System.arraycopy(all, off, out, 0, n);
        return out;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // reshapeAndCache

    @Override
    public void reshapeAndCache(Tensor keyCache, Tensor valueCache, Tensor key, Tensor value, Tensor slotMapping) {
        // key, value: (T, Hkv, D) with unit stride on D; the caches: (numBlocks, blockSize, Hkv, D)
        int[] slots = ints(slotMapping);
        int hkv = (int) key.shape().dim(1);
        int d = (int) key.shape().dim(2);
        CpuParallel.forRange(slots.length, 16, (from, to) -> {
            for (int t = from; t < to; t++) {
                if (slots[t] < 0) {
                    continue; // padding token
                }
                storeToken(keyCache, key, t, slots[t], hkv, d);
                storeToken(valueCache, value, t, slots[t], hkv, d);
            }
        });
    }

    /** cache[slot] = src[t], for a (T, Hkv, D) source row-block of Hkv × D elements. */
    private static void storeToken(Tensor cache, Tensor src, int t, int slot, int hkv, int d) {
        CpuStorage c = cache.cpu();
        CpuStorage s = src.cpu();
        int cacheBase = Math.toIntExact(cache.offset() + (long) slot * hkv * d);
        for (int h = 0; h < hkv; h++) {
            int from = Math.toIntExact(src.offset() + t * src.stride(0) + h * src.stride(1));
            // same dtype on both sides (the facade checks), so the arrays copy element for element
            System.arraycopy(s.array(), from, c.array(), cacheBase + h * d, d);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // pagedAttention

    @Override
    public void pagedAttention(Tensor out, Tensor query, Tensor keyCache, Tensor valueCache, Tensor blockTables,
            Tensor queryStarts, Tensor contextLens, PagedAttentionSpec spec) {
        int[] tables = ints(blockTables);
        int tableWidth = (int) blockTables.shape().dim(1);
        int[] starts = ints(queryStarts);
        int[] lens = ints(contextLens);
        int seqs = lens.length;
        int hq = (int) query.shape().dim(1);
        int d = (int) query.shape().dim(2);
        int blockSize = (int) keyCache.shape().dim(1);
        int hkv = (int) keyCache.shape().dim(2);
        int group = hq / hkv;
        double scale = spec.scale();
        CpuStorage k = keyCache.cpu();
        CpuStorage v = valueCache.cpu();
        CpuStorage q = query.cpu();
        CpuStorage o = out.cpu();
        int kOff = Math.toIntExact(keyCache.offset());
        int vOff = Math.toIntExact(valueCache.offset());
        int oOff = Math.toIntExact(out.offset());
        CpuParallel.forRange(seqs * hq, 1, (from, to) -> {
            double[] qRow = new double[d];
            double[] row = new double[d];
            double[] acc = new double[d];
            double[] scores = new double[0];
            for (int task = from; task < to; task++) {
                int s = task / hq;
                int h = task % hq;
                int kvHead = h / group;
                int nq = starts[s + 1] - starts[s];
                int ctx = lens[s];
                if (scores.length < ctx) {
                    scores = new double[ctx];
                }
                for (int i = 0; i < nq; i++) {
                    int t = starts[s] + i;
                    int last = ctx - nq + i; // causal: the row sees positions 0..last
                    read(q, Math.toIntExact(query.offset() + t * query.stride(0) + h * query.stride(1)), d, qRow);
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= last; j++) {
                        read(k, kOff + slotBase(tables, tableWidth, s, j, blockSize, hkv, kvHead, d), d, row);
                        double dot = 0;
                        for (int c = 0; c < d; c++) {
                            dot += qRow[c] * row[c];
                        }
                        scores[j] = dot * scale;
                        max = Math.max(max, scores[j]);
                    }
                    Arrays.fill(acc, 0);
                    double sum = 0;
                    for (int j = 0; j <= last; j++) {
                        double p = Math.exp(scores[j] - max);
                        sum += p;
                        read(v, vOff + slotBase(tables, tableWidth, s, j, blockSize, hkv, kvHead, d), d, row);
                        for (int c = 0; c < d; c++) {
                            acc[c] += p * row[c];
                        }
                    }
                    int outBase = oOff + (t * hq + h) * d;
                    for (int c = 0; c < d; c++) {
                        o.set(outBase + c, acc[c] / sum);
                    }
                }
            }
        });
    }

    /** Element index (without the tensor offset) of the head-{@code kvHead} row of logical token j of sequence s. */
    private static int slotBase(int[] tables, int tableWidth, int s, int j, int blockSize, int hkv, int kvHead,
            int d) {
        int block = tables[s * tableWidth + j / blockSize];
        long slot = (long) block * blockSize + j % blockSize;
        return Math.toIntExact((slot * hkv + kvHead) * d);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // block copies

    @Override
    public void copyBlocks(List<Tensor> caches, int[] sources, int[] destinations) {
        for (Tensor cache : caches) {
            copy(cache, cache, sources, destinations);
        }
    }

    @Override
    public void swapBlocks(Tensor src, Tensor dst, int[] sources, int[] destinations) {
        copy(src, dst, sources, destinations);
    }

    /** Block destinations[i] of dst = block sources[i] of src; both host caches of one dtype and block shape. */
    private static void copy(Tensor src, Tensor dst, int[] sources, int[] destinations) {
        long blockElems = src.numel() / src.shape().dim(0);
        Object from = src.cpu().array();
        Object to = dst.cpu().array();
        for (int i = 0; i < sources.length; i++) {
            System.arraycopy(from, Math.toIntExact(src.offset() + sources[i] * blockElems), to,
                    Math.toIntExact(dst.offset() + destinations[i] * blockElems), (int) blockElems);
        }
    }
}
