package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.kvcache.PagedAttentionSpec;
import ai.fulgur.ops.kvcache.PagedKvKernels;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import jcuda.driver.JCudaDriver;

/**
 * The paged KV cache on the GPU (paged_attention.cu), F32, BF16 and F16 caches with float math.
 *
 * <p>Attention: decode calls ({@link PagedAttentionSpec#maxQueryLength()} = 1) with head dims 32, 64, 128 or 256 and
 * 16-byte aligned rows run the decode kernel, one block per (query head, sequence, partition of
 * {@value #PARTITION} tokens); when the longest context spans several partitions (split-K) the partitions' partial
 * results go to F32 scratch and a second kernel combines them. Everything else (chunked prefill rows, other head
 * dims) runs the one-warp-per-row kernel. Swapping copies each run of consecutive blocks with one staged cuMemcpy
 * (host pools are Java arrays, so the copies go through the device's pinned buffers).
 */
final class CudaPagedKv implements PagedKvKernels {
    private static final String MODULE = "paged_attention";
    /** Threads of the attention kernels (PA_THREADS). */
    private static final int THREADS = 128;
    /** Tokens per split-K partition of the decode kernel (PA_PARTITION). */
    static final int PARTITION = 512;
    private static final Set<Long> DECODE_HEAD_DIMS = Set.of(32L, 64L, 128L, 256L);

    static String suffix(DType t) {
        return switch (t) {
            case F32 -> "f32";
            case BF16 -> "bf16";
            case F16 -> "f16";
            default -> throw new IllegalArgumentException("the CUDA paged KV kernels take F32, BF16 or F16, got " + t);
        };
    }

    /** Elements in 16 bytes. */
    private static int vectorWidth(DType t) {
        return 16 / t.byteSize();
    }

    private static boolean aligned16(Tensor t) {
        return CudaTensors.first(t) % 16 == 0;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // reshapeAndCache

    // caches (numBlocks, blockSize, Hkv, D); key, value (T, Hkv, D) with unit stride on D; slotMapping I32 (T)
    @Override
    public void reshapeAndCache(Tensor keyCache, Tensor valueCache, Tensor key, Tensor value, Tensor slotMapping) {
        String suffix = suffix(keyCache.dtype());
        long tokens = key.shape().dim(0);
        long hkv = key.shape().dim(1);
        long d = key.shape().dim(2);
        int w = vectorWidth(keyCache.dtype());
        boolean vec = d % w == 0 && key.stride(0) % w == 0 && key.stride(1) % w == 0 && value.stride(0) % w == 0
                && value.stride(1) % w == 0 && aligned16(key) && aligned16(value) && aligned16(keyCache)
                && aligned16(valueCache);
        CudaDevice device = CudaTensors.device(keyCache);
        device.launch(MODULE, (vec ? "reshape_and_cache_vec_" : "reshape_and_cache_") + suffix,
                CudaReduce.checkGrid(tokens, "reshapeAndCache"), THREADS, 0, CudaTensors.first(keyCache),
                CudaTensors.first(valueCache), CudaTensors.first(key), CudaTensors.first(value),
                CudaTensors.first(slotMapping), (int) hkv, (int) d, key.stride(0), key.stride(1), value.stride(0),
                value.stride(1));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // pagedAttention

    // out (T, Hq, D) contiguous; query (T, Hq, D) unit stride on D; caches (numBlocks, blockSize, Hkv, D);
    // blockTables I32 (S, M); queryStarts I32 (S + 1); contextLens I32 (S)
    @Override
    public void pagedAttention(Tensor out, Tensor query, Tensor keyCache, Tensor valueCache, Tensor blockTables,
            Tensor queryStarts, Tensor contextLens, PagedAttentionSpec spec) {
        String suffix = suffix(query.dtype());
        CudaDevice device = CudaTensors.device(query);
        long seqs = contextLens.shape().dim(0);
        long rows = query.shape().dim(0);
        long hq = query.shape().dim(1);
        long d = query.shape().dim(2);
        int blockSize = (int) keyCache.shape().dim(1);
        int hkv = (int) keyCache.shape().dim(2);
        int tableWidth = (int) blockTables.shape().dim(1);
        float scale = (float) spec.scale();
        if (usesDecodeKernel(query, keyCache, valueCache, spec)) {
            int maxParts = Math.ceilDiv(spec.maxContextLength(), PARTITION);
            String kernel = "paged_attention_decode_d" + d + "_" + suffix;
            long grid = gridY(seqs, "sequences");
            gridY(maxParts, "partitions of " + PARTITION + " tokens (spec.maxContextLength)");
            if (maxParts == 1) {
                device.launch3(MODULE, kernel, hq, grid, 1, THREADS, 0, CudaTensors.first(out), 0L, 0L, 0L,
                        CudaTensors.first(query), CudaTensors.first(keyCache), CudaTensors.first(valueCache),
                        CudaTensors.first(blockTables), CudaTensors.first(queryStarts),
                        CudaTensors.first(contextLens), hkv, blockSize, tableWidth, query.stride(0), query.stride(1),
                        scale, 1);
                return;
            }
            long partials = seqs * hq * maxParts;
            try (CudaStorage partOut = new CudaStorage(device, DType.F32, partials * d);
                    CudaStorage partMax = new CudaStorage(device, DType.F32, partials);
                    CudaStorage partSum = new CudaStorage(device, DType.F32, partials)) {
                device.launch3(MODULE, kernel, hq, grid, maxParts, THREADS, 0, CudaTensors.first(out),
                        partOut.address(0), partMax.address(0), partSum.address(0), CudaTensors.first(query),
                        CudaTensors.first(keyCache), CudaTensors.first(valueCache), CudaTensors.first(blockTables),
                        CudaTensors.first(queryStarts), CudaTensors.first(contextLens), hkv, blockSize, tableWidth,
                        query.stride(0), query.stride(1), scale, maxParts);
                device.launch3(MODULE, "paged_attention_reduce_" + suffix, hq, grid, 1, (int) Math.min(256, d), 0,
                        CudaTensors.first(out), partOut.address(0), partMax.address(0), partSum.address(0),
                        CudaTensors.first(queryStarts), CudaTensors.first(contextLens), (int) d, maxParts);
            } // stream-ordered release: the scratch is reused only by later work on the same stream
            return;
        }
        device.launch(MODULE, "paged_attention_rows_" + suffix,
                CudaReduce.checkGrid(Math.ceilDiv(rows * hq, THREADS / 32), "pagedAttention"), THREADS, 0,
                CudaTensors.first(out), CudaTensors.first(query), CudaTensors.first(keyCache),
                CudaTensors.first(valueCache), CudaTensors.first(blockTables), CudaTensors.first(queryStarts),
                CudaTensors.first(contextLens), (int) seqs, (int) rows, (int) hq, hkv, (int) d, blockSize, tableWidth,
                query.stride(0), query.stride(1), scale);
    }

    /** A y or z grid dimension, at most 65535. */
    private static long gridY(long n, String what) {
        if (n > 65535) {
            throw new IllegalArgumentException("pagedAttention: " + n + " " + what + " exceed the CUDA grid limit of "
                    + "65535; split the batch");
        }
        return n;
    }

    /** Decode rows, a head dim with a decode instantiation, and rows that 16-byte loads can read. */
    private static boolean usesDecodeKernel(Tensor query, Tensor keyCache, Tensor valueCache,
            PagedAttentionSpec spec) {
        return decodeShape(query, spec) && aligned16(query) && aligned16(keyCache) && aligned16(valueCache);
    }

    /** The shape half of the decode kernel's conditions (the other half: 16-byte aligned addresses). */
    static boolean decodeShape(Tensor query, PagedAttentionSpec spec) {
        int w = vectorWidth(query.dtype());
        return spec.maxQueryLength() == 1 && DECODE_HEAD_DIMS.contains(query.shape().dim(2))
                && query.stride(0) % w == 0 && query.stride(1) % w == 0;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // block copies

    @Override
    public void copyBlocks(List<Tensor> caches, int[] sources, int[] destinations) {
        Tensor first = caches.get(0);
        CudaDevice device = CudaTensors.device(first);
        long blockBytes = first.numel() / first.shape().dim(0) * first.dtype().byteSize();
        long[] addresses = new long[caches.size()];
        boolean vec = blockBytes % 16 == 0;
        for (int i = 0; i < addresses.length; i++) {
            addresses[i] = CudaTensors.first(caches.get(i));
            vec &= addresses[i] % 16 == 0;
        }
        int[] pairs = new int[2 * sources.length];
        for (int i = 0; i < sources.length; i++) {
            pairs[2 * i] = sources[i];
            pairs[2 * i + 1] = destinations[i];
        }
        Device gpu = first.device();
        Tensor cacheTable = Tensor.of(addresses, addresses.length).to(gpu);
        Tensor pairTable = Tensor.of(pairs, pairs.length).to(gpu);
        device.launch3(MODULE, vec ? "copy_blocks_vec" : "copy_blocks_bytes",
                CudaReduce.checkGrid(sources.length, "copyBlocks"), addresses.length, 1, 256, 0,
                CudaTensors.first(cacheTable), CudaTensors.first(pairTable), blockBytes);
        cacheTable.storage().close(); // stream-ordered: safe right after the launch
        pairTable.storage().close();
    }

    /**
     * Each run of blocks consecutive in both caches is one copy: device to device on the stream, or staged through
     * the pinned buffers to or from the host pool's array (a download returns once the bytes are in the array).
     */
    @Override
    public void swapBlocks(Tensor src, Tensor dst, int[] sources, int[] destinations) {
        CudaDevice device = CudaTensors.device(src.device().isCpu() ? dst : src);
        int elementBytes = src.dtype().byteSize();
        long blockElements = src.numel() / src.shape().dim(0);
        long blockBytes = blockElements * elementBytes;
        Integer[] order = new Integer[sources.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Integer.compare(sources[a], sources[b]));
        device.enter();
        int i = 0;
        while (i < order.length) {
            int from = sources[order[i]];
            int to = destinations[order[i]];
            int count = 1;
            while (i + count < order.length && sources[order[i + count]] == from + count
                    && destinations[order[i + count]] == to + count) {
                count++;
            }
            long bytes = count * blockBytes;
            long srcElement = src.offset() + from * blockElements;
            long dstElement = dst.offset() + to * blockElements;
            if (!src.device().isCpu() && !dst.device().isCpu()) {
                JCudaDriver.cuMemcpyDtoDAsync(CudaTensors.storage(dst).pointer(dstElement),
                        CudaTensors.storage(src).pointer(srcElement), bytes, device.stream());
            } else if (src.device().isCpu()) {
                device.copyToDevice(CudaTensors.storage(dst).pointer(dstElement), src.cpu().array(),
                        srcElement * elementBytes, bytes);
            } else {
                device.copyToHost(dst.cpu().array(), dstElement * elementBytes,
                        CudaTensors.storage(src).pointer(srcElement), bytes);
            }
            i += count;
        }
    }
}
