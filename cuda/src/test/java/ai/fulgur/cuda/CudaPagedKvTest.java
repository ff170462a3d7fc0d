package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.kvcache.PagedAttentionSpec;
import ai.fulgur.ops.kvcache.PagedKv;
import ai.fulgur.ops.kvcache.PagedKvWorkload;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The CUDA paged KV kernels equal the CPU reference ({@link ai.fulgur.ops.cpu.CpuPagedKv}, itself checked against a
 * float64 formula) on fresh random inputs: decode over contexts from 1 to 4000 tokens (one partition, and split-K
 * over several), mixed lengths in one batch, grouped-query heads, chunked-prefill rows beside decode rows, head dims
 * with and without a decode kernel, strided queries, BF16/F16/F32; outputs poisoned with NaN before each run, so an
 * element no kernel writes fails. reshapeAndCache, copyBlocks and swapBlocks must give the CPU's bits exactly.
 */
class CudaPagedKvTest extends GpuTest {
    private static final DType[] DTYPES = {DType.BF16, DType.F16, DType.F32};

    /** Runs the workload on the GPU into a NaN-poisoned output and compares with the CPU kernel. */
    private static void assertGpuMatchesCpu(String what, PagedKvWorkload w, Tensor query) {
        DType dtype = query.dtype();
        Tensor cpu = PagedKv.pagedAttention(query, w.keyCache(), w.valueCache(), w.blockTables(), w.queryStarts(),
                w.contextLens(), w.spec());
        Tensor out = CudaTesting.poisoned(query.shape(), dtype);
        PagedKv.pagedAttention(out, query.to(GPU), w.keyCache().to(GPU), w.valueCache().to(GPU), w.blockTables(),
                w.queryStarts(), w.contextLens(), w.spec());
        CudaTesting.assertClose(what + " " + dtype, cpu, out, CudaTesting.tolerance(dtype));
    }

    private static void assertGpuMatchesCpu(String what, PagedKvWorkload w) {
        assertGpuMatchesCpu(what, w, w.query());
    }

    private static int[] ones(int n) {
        int[] q = new int[n];
        java.util.Arrays.fill(q, 1);
        return q;
    }

    @Test
    void decodeOneSequenceAtManyContextLengths() {
        // one partition (up to 512), exactly one and two, and split-K up to 8 partitions
        int[] lengths = {1, 2, 15, 16, 17, 100, 511, 512, 513, 1000, 1537, 4000};
        long seed = 1;
        for (DType dtype : DTYPES) {
            for (int d : new int[] {64, 128}) {
                for (int len : lengths) {
                    PagedKvWorkload w = PagedKvWorkload.random(dtype, 16, 4, 4, d, new int[] {len}, new int[] {1},
                            false, seed++);
                    assertTrue(CudaPagedKv.decodeShape(w.query(), w.spec()));
                    assertGpuMatchesCpu("decode d" + d + " context " + len, w);
                }
            }
        }
    }

    @Test
    void decodeMixedLengthsGroupedQueryHeadsSharedBlocks() {
        int[] lens = {4000, 1, 37, 513, 1024, 700, 16, 2049};
        long seed = 100;
        for (DType dtype : DTYPES) {
            for (int d : new int[] {32, 64, 128, 256}) {
                PagedKvWorkload gqa = PagedKvWorkload.random(dtype, 16, 8, 2, d, lens, ones(lens.length), true,
                        seed++);
                assertGpuMatchesCpu("decode gqa 8/2 d" + d, gqa);
            }
            PagedKvWorkload mqa = PagedKvWorkload.random(dtype, 8, 6, 1, 64, lens, ones(lens.length), false, seed++);
            assertGpuMatchesCpu("decode mqa 6/1 block 8", mqa);
            PagedKvWorkload block32 = PagedKvWorkload.random(dtype, 32, 4, 4, 128, lens, ones(lens.length), true,
                    seed++);
            assertGpuMatchesCpu("decode block 32", block32);
        }
    }

    @Test
    void chunkedPrefillRowsBesideDecodeRows() {
        int[] lens = {300, 40, 1, 1200, 77};
        int[] queries = {300, 13, 1, 64, 1};
        long seed = 200;
        for (DType dtype : DTYPES) {
            for (int d : new int[] {64, 80, 128}) {
                PagedKvWorkload w = PagedKvWorkload.random(dtype, 16, 4, 2, d, lens, queries, true, seed++);
                assertTrue(!CudaPagedKv.decodeShape(w.query(), w.spec()));
                assertGpuMatchesCpu("prefill rows d" + d, w);
            }
        }
    }

    @Test
    void decodeWithHeadDimsWithoutADecodeKernelRunsTheRowKernel() {
        int[] lens = {1, 600, 33};
        PagedKvWorkload w = PagedKvWorkload.random(DType.BF16, 16, 4, 4, 80, lens, ones(3), false, 300);
        assertTrue(!CudaPagedKv.decodeShape(w.query(), w.spec()));
        assertGpuMatchesCpu("decode d80", w);
        PagedKvWorkload odd = PagedKvWorkload.random(DType.F32, 4, 2, 1, 24, lens, ones(3), false, 301);
        assertGpuMatchesCpu("decode d24", odd);
    }

    @Test
    void stridedQueryFromAFusedProjection() {
        int[] lens = {700, 20};
        for (DType dtype : DTYPES) {
            PagedKvWorkload w = PagedKvWorkload.random(dtype, 16, 4, 4, 64, lens, ones(2), false, 400);
            // the query as slice 1 of a (T, 3, Hq, D) tensor: token stride 3·Hq·D, offset Hq·D
            Tensor qkv = CudaTesting.random(new SplittableRandom(401), dtype, -1, 1, 2, 3, 4, 64);
            Tensor q = qkv.select(1, 1);
            assertTrue(CudaPagedKv.decodeShape(q, w.spec()));
            // the device view keeps the strides: move the whole QKV tensor, then select
            Tensor cpu = PagedKv.pagedAttention(q, w.keyCache(), w.valueCache(), w.blockTables(), w.queryStarts(),
                    w.contextLens(), w.spec());
            Tensor out = CudaTesting.poisoned(q.shape(), dtype);
            PagedKv.pagedAttention(out, qkv.to(GPU).select(1, 1), w.keyCache().to(GPU), w.valueCache().to(GPU),
                    w.blockTables(), w.queryStarts(), w.contextLens(), w.spec());
            CudaTesting.assertClose("strided query " + dtype, cpu, out, CudaTesting.tolerance(dtype));
        }
    }

    @Test
    void indexTensorsAlreadyOnTheDevice() {
        int[] lens = {900, 3};
        PagedKvWorkload w = PagedKvWorkload.random(DType.BF16, 16, 2, 2, 128, lens, ones(2), false, 500);
        Tensor cpu = w.run(Device.CPU);
        Tensor gpu = PagedKv.pagedAttention(w.query().to(GPU), w.keyCache().to(GPU), w.valueCache().to(GPU),
                w.blockTables().to(GPU), w.queryStarts().to(GPU), w.contextLens().to(GPU), w.spec());
        CudaTesting.assertClose("device index tensors", cpu, gpu, CudaTesting.tolerance(DType.BF16));
    }

    @Test
    void reshapeAndCacheEqualsTheCpuBits() {
        SplittableRandom rnd = new SplittableRandom(600);
        for (DType dtype : DTYPES) {
            for (int d : new int[] {64, 24}) { // 16-byte rows, and rows of 48 bytes (BF16) that take the scalar path
                int hkv = 2;
                Tensor keyCache = CudaTesting.random(rnd, dtype, -1, 1, 9, 4, hkv, d);
                Tensor valueCache = CudaTesting.random(rnd, dtype, -1, 1, 9, 4, hkv, d);
                // key as a slice of a fused (T, 3, Hkv, D) tensor, value contiguous
                Tensor qkv = CudaTesting.random(rnd, dtype, -1, 1, 6, 3, hkv, d);
                Tensor value = CudaTesting.random(rnd, dtype, -1, 1, 6, hkv, d);
                Tensor slots = Tensor.of(new int[] {35, -1, 0, 17, 18, 3}, 6);
                Tensor gpuKeys = keyCache.to(GPU);
                Tensor gpuValues = valueCache.to(GPU);
                PagedKv.reshapeAndCache(gpuKeys, gpuValues, qkv.to(GPU).select(1, 1), value.to(GPU), slots);
                PagedKv.reshapeAndCache(keyCache, valueCache, qkv.select(1, 1), value, slots);
                assertArrayEquals(keyCache.toDoubleArray(), gpuKeys.toDoubleArray(), dtype + " d" + d + " keys");
                assertArrayEquals(valueCache.toDoubleArray(), gpuValues.toDoubleArray(), dtype + " d" + d + " values");
            }
        }
    }

    @Test
    void copyBlocksOverSeveralCachesEqualsTheCpuBits() {
        SplittableRandom rnd = new SplittableRandom(700);
        for (int d : new int[] {64, 3}) { // 16-byte blocks, and 24-byte blocks (byte copies)
            List<Tensor> host = new ArrayList<>();
            List<Tensor> device = new ArrayList<>();
            for (int layer = 0; layer < 5; layer++) {
                Tensor c = CudaTesting.random(rnd, DType.BF16, -1, 1, 12, 4, 1, d);
                host.add(c);
                device.add(c.to(GPU));
            }
            int[] src = {0, 0, 7, 3};
            int[] dst = {1, 11, 2, 4};
            PagedKv.copyBlocks(host, src, dst);
            PagedKv.copyBlocks(device, src, dst);
            for (int layer = 0; layer < host.size(); layer++) {
                assertArrayEquals(host.get(layer).toDoubleArray(), device.get(layer).toDoubleArray(),
                        "d" + d + " cache " + layer);
            }
        }
    }

    @Test
    void swapBlocksOutInAndWithinTheDevice() {
        SplittableRandom rnd = new SplittableRandom(800);
        Tensor gpuPool = CudaTesting.random(rnd, DType.F16, -1, 1, 20, 16, 2, 64).to(GPU);
        Tensor cpuPool = CudaTesting.random(rnd, DType.F16, -1, 1, 8, 16, 2, 64);
        double[] gpuBefore = gpuPool.toDoubleArray();
        double[] cpuBefore = cpuPool.toDoubleArray();
        int blockElements = 16 * 2 * 64;
        // out: a run of three (5, 6, 7 -> 2, 3, 4) given out of order, and two single blocks
        int[] outSrc = {6, 19, 5, 7, 0};
        int[] outDst = {3, 7, 2, 4, 0};
        PagedKv.swapBlocks(gpuPool, cpuPool, outSrc, outDst);
        double[] expectCpu = cpuBefore.clone();
        for (int i = 0; i < outSrc.length; i++) {
            System.arraycopy(gpuBefore, outSrc[i] * blockElements, expectCpu, outDst[i] * blockElements,
                    blockElements);
        }
        assertArrayEquals(expectCpu, cpuPool.toDoubleArray(), "swap out");
        // in: back to other device blocks
        int[] inSrc = {2, 3, 7};
        int[] inDst = {10, 11, 1};
        PagedKv.swapBlocks(cpuPool, gpuPool, inSrc, inDst);
        double[] expectGpu = gpuBefore.clone();
        for (int i = 0; i < inSrc.length; i++) {
            System.arraycopy(expectCpu, inSrc[i] * blockElements, expectGpu, inDst[i] * blockElements, blockElements);
        }
        assertArrayEquals(expectGpu, gpuPool.toDoubleArray(), "swap in");
        // device to device
        Tensor other = Tensor.zeros(gpuPool.shape(), DType.F16, GPU);
        PagedKv.swapBlocks(gpuPool, other, new int[] {10, 11}, new int[] {0, 1});
        double[] got = other.toDoubleArray();
        for (int e = 0; e < 2 * blockElements; e++) {
            assertEquals(expectGpu[10 * blockElements + e], got[e], "device to device element " + e);
        }
    }

    @Test
    void writeThenAttendOnTheDevice() {
        // the runner's order: store a prompt's keys and values, then attend to them as one prefill chunk, then decode
        SplittableRandom rnd = new SplittableRandom(900);
        int tokens = 50;
        int blockSize = 16;
        int[] table = {3, 0, 5, 1};
        int[] slots = new int[tokens];
        for (int t = 0; t < tokens; t++) {
            slots[t] = table[t / blockSize] * blockSize + t % blockSize;
        }
        Tensor key = CudaTesting.random(rnd, DType.BF16, -1, 1, tokens, 2, 64);
        Tensor value = CudaTesting.random(rnd, DType.BF16, -1, 1, tokens, 2, 64);
        Tensor query = CudaTesting.random(rnd, DType.BF16, -1, 1, tokens, 4, 64);
        Tensor keyCache = Tensor.zeros(ai.fulgur.ops.Shape.of(6, blockSize, 2, 64), DType.BF16, GPU);
        Tensor valueCache = Tensor.zeros(ai.fulgur.ops.Shape.of(6, blockSize, 2, 64), DType.BF16, GPU);
        PagedKv.reshapeAndCache(keyCache, valueCache, key.to(GPU), value.to(GPU), Tensor.of(slots, tokens));
        PagedAttentionSpec spec = new PagedAttentionSpec(0.125, tokens, tokens);
        PagedKvWorkload w = new PagedKvWorkload(query, keyCache.to(Device.CPU), valueCache.to(Device.CPU), table,
                table.length, new int[] {0, tokens}, new int[] {tokens}, spec);
        assertGpuMatchesCpu("prefill after reshapeAndCache", w);
        PagedKvWorkload decode = new PagedKvWorkload(query.slice(0, tokens - 1, tokens), w.keyCache(),
                w.valueCache(), table, table.length, new int[] {0, 1}, new int[] {tokens},
                new PagedAttentionSpec(0.125, 1, tokens));
        assertGpuMatchesCpu("decode after reshapeAndCache", decode);
    }
}
