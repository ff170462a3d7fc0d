package ai.fulgur.ops.kvcache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.testing.TestTensors;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The CPU paged KV kernels through the {@link PagedKv} facade against obvious formulas: attention against a float64
 * gather-then-dense-softmax over random, non-contiguous (and shared) block tables, with context lengths that are not
 * block multiples, grouped-query heads, decode rows and chunked-prefill rows in one call, every floating dtype;
 * reshapeAndCache, copyBlocks and swapBlocks against element-by-element expectations.
 */
class PagedKvTest {

    private static void assertMatches(PagedKvWorkload w, Tensor out, DType dtype) {
        assertEquals(w.outShape(), out.shape());
        assertEquals(dtype, out.dtype());
        double[] ref = w.reference();
        double[] got = out.toDoubleArray();
        for (int i = 0; i < ref.length; i++) {
            double tol = PagedKvWorkload.tolerance(dtype, ref[i]);
            if (!(Math.abs(got[i] - ref[i]) <= tol)) {
                throw new AssertionError("out[" + i + "] (token " + i / (out.shape().dim(1) * out.shape().dim(2))
                        + "): expected " + ref[i] + ", got " + got[i] + ", tolerance " + tol);
            }
        }
    }

    @Test
    void decodeOverRandomBlockTablesWithMixedLengths() {
        for (DType dtype : new DType[] {DType.F64, DType.F32}) {
            int[] lens = {1, 5, 16, 17, 33, 100, 64};
            int[] queries = {1, 1, 1, 1, 1, 1, 1};
            PagedKvWorkload w = PagedKvWorkload.random(dtype, 16, 4, 4, 8, lens, queries, false, 1);
            assertMatches(w, w.run(Device.CPU), dtype);
        }
    }

    @Test
    void groupedQueryHeadsAndSharedPrefixBlocks() {
        int[] lens = {40, 37, 50, 9};
        int[] queries = {1, 1, 1, 1};
        PagedKvWorkload w = PagedKvWorkload.random(DType.F32, 8, 6, 2, 16, lens, queries, true, 2);
        assertTrue(w.tables()[w.tableWidth()] == w.tables()[0], "the workload should share sequence 0's first block");
        assertMatches(w, w.run(Device.CPU), DType.F32);
        PagedKvWorkload mqa = PagedKvWorkload.random(DType.F32, 4, 8, 1, 12, lens, queries, true, 3);
        assertMatches(mqa, mqa.run(Device.CPU), DType.F32);
    }

    @Test
    void chunkedPrefillRowsAndDecodeRowsInOneCall() {
        // a whole prompt (nq = ctx), a chunk at the end of a longer context, decodes, a chunk of one block + 1
        int[] lens = {23, 70, 12, 1, 45};
        int[] queries = {23, 9, 1, 1, 17};
        PagedKvWorkload w = PagedKvWorkload.random(DType.F32, 16, 4, 2, 8, lens, queries, true, 4);
        assertMatches(w, w.run(Device.CPU), DType.F32);
    }

    @Test
    void halfPrecisionInputs() {
        int[] lens = {30, 3, 65};
        int[] queries = {2, 1, 5};
        for (DType dtype : new DType[] {DType.BF16, DType.F16}) {
            PagedKvWorkload w = PagedKvWorkload.random(dtype, 16, 4, 2, 32, lens, queries, false, 5);
            assertMatches(w, w.run(Device.CPU), dtype);
        }
    }

    @Test
    void stridedQueryFromAFusedProjection() {
        int[] lens = {20, 7};
        int[] queries = {3, 1};
        PagedKvWorkload w = PagedKvWorkload.random(DType.F32, 4, 2, 2, 8, lens, queries, false, 6);
        // the query as the first third of a (T, 3, Hq, D) QKV tensor: token stride 3·Hq·D
        Tensor qkv = TestTensors.uniform(new SplittableRandom(7), DType.F32, -1, 1, 4, 3, 2, 8);
        Tensor q = qkv.select(1, 0);
        Tensor fromView = PagedKv.pagedAttention(q, w.keyCache(), w.valueCache(), w.blockTables(), w.queryStarts(),
                w.contextLens(), w.spec());
        Tensor fromCopy = PagedKv.pagedAttention(q.contiguous(), w.keyCache(), w.valueCache(), w.blockTables(),
                w.queryStarts(), w.contextLens(), w.spec());
        assertArrayEquals(fromCopy.toDoubleArray(), fromView.toDoubleArray());
        PagedKvWorkload same = new PagedKvWorkload(q.contiguous(), w.keyCache(), w.valueCache(), w.tables(),
                w.tableWidth(), w.starts(), w.lens(), w.spec());
        assertMatches(same, fromView, DType.F32);
    }

    @Test
    void reshapeAndCacheStoresEachTokenInItsSlotAndSkipsNegativeSlots() {
        int numBlocks = 5;
        int blockSize = 4;
        int hkv = 2;
        int d = 3;
        for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
            Tensor keyCache = Tensor.zeros(Shape.of(numBlocks, blockSize, hkv, d), dtype, Device.CPU);
            Tensor valueCache = Tensor.zeros(Shape.of(numBlocks, blockSize, hkv, d), dtype, Device.CPU);
            SplittableRandom rnd = new SplittableRandom(8);
            // key as a strided view (every other token of a longer tensor)
            Tensor key = TestTensors.uniform(rnd, dtype, -1, 1, 8, hkv, d).slice(0, 0, 8, 2);
            Tensor value = TestTensors.uniform(rnd, dtype, -1, 1, 4, hkv, d);
            int[] slots = {17, -1, 0, 6};
            PagedKv.reshapeAndCache(keyCache, valueCache, key, value, Tensor.of(slots, 4));
            double[] k = key.toDoubleArray();
            double[] v = value.toDoubleArray();
            double[] kc = keyCache.toDoubleArray();
            double[] vc = valueCache.toDoubleArray();
            double[] expectK = new double[kc.length];
            double[] expectV = new double[vc.length];
            for (int t = 0; t < slots.length; t++) {
                if (slots[t] < 0) {
                    continue;
                }
                for (int e = 0; e < hkv * d; e++) {
                    expectK[slots[t] * hkv * d + e] = k[t * hkv * d + e];
                    expectV[slots[t] * hkv * d + e] = v[t * hkv * d + e];
                }
            }
            assertArrayEquals(expectK, kc, dtype + " key cache");
            assertArrayEquals(expectV, vc, dtype + " value cache");
        }
    }

    @Test
    void writeThenAttendEqualsTheFormula() {
        // a prompt of 21 tokens stored by reshapeAndCache into scattered blocks, then attended as one prefill chunk
        int blockSize = 4;
        int hkv = 2;
        int d = 8;
        int tokens = 21;
        int[] table = {6, 2, 9, 0, 4, 7};
        SplittableRandom rnd = new SplittableRandom(9);
        Tensor key = TestTensors.uniform(rnd, DType.F32, -1, 1, tokens, hkv, d);
        Tensor value = TestTensors.uniform(rnd, DType.F32, -1, 1, tokens, hkv, d);
        Tensor query = TestTensors.uniform(rnd, DType.F32, -1, 1, tokens, 4, d);
        Tensor keyCache = Tensor.zeros(Shape.of(10, blockSize, hkv, d), DType.F32, Device.CPU);
        Tensor valueCache = Tensor.zeros(Shape.of(10, blockSize, hkv, d), DType.F32, Device.CPU);
        int[] slots = new int[tokens];
        for (int t = 0; t < tokens; t++) {
            slots[t] = table[t / blockSize] * blockSize + t % blockSize;
        }
        PagedKv.reshapeAndCache(keyCache, valueCache, key, value, Tensor.of(slots, tokens));
        PagedKvWorkload w = new PagedKvWorkload(query, keyCache, valueCache, table, table.length,
                new int[] {0, tokens}, new int[] {tokens}, new PagedAttentionSpec(0.5, tokens, tokens));
        assertMatches(w, w.run(Device.CPU), DType.F32);
    }

    @Test
    void copyBlocksCopiesInEveryCache() {
        SplittableRandom rnd = new SplittableRandom(10);
        Tensor a = TestTensors.uniform(rnd, DType.F32, -1, 1, 6, 2, 1, 3);
        Tensor b = TestTensors.uniform(rnd, DType.F32, -1, 1, 6, 2, 1, 3);
        double[] a0 = a.toDoubleArray();
        double[] b0 = b.toDoubleArray();
        int[] src = {1, 1, 4};
        int[] dst = {0, 5, 2};
        PagedKv.copyBlocks(List.of(a, b), src, dst);
        for (Object[] pair : new Object[][] {{a, a0}, {b, b0}}) {
            double[] before = (double[]) pair[1];
            double[] expect = before.clone();
            for (int i = 0; i < src.length; i++) {
                System.arraycopy(before, src[i] * 6, expect, dst[i] * 6, 6);
            }
            assertArrayEquals(expect, ((Tensor) pair[0]).toDoubleArray());
        }
    }

    @Test
    void swapBlocksBetweenPoolsOfDifferentSizes() {
        SplittableRandom rnd = new SplittableRandom(11);
        Tensor gpuPool = TestTensors.uniform(rnd, DType.BF16, -1, 1, 7, 4, 2, 2);
        Tensor cpuPool = TestTensors.uniform(rnd, DType.BF16, -1, 1, 3, 4, 2, 2);
        double[] from = gpuPool.toDoubleArray();
        double[] expect = cpuPool.toDoubleArray();
        int[] src = {6, 0, 3};
        int[] dst = {1, 2, 0};
        PagedKv.swapBlocks(gpuPool, cpuPool, src, dst);
        for (int i = 0; i < src.length; i++) {
            System.arraycopy(from, src[i] * 16, expect, dst[i] * 16, 16);
        }
        assertArrayEquals(expect, cpuPool.toDoubleArray());
    }
}
