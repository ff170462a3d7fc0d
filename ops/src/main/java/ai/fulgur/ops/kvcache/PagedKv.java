package ai.fulgur.ops.kvcache;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Checks;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * The paged KV cache of PagedAttention (Kwon et al. 2023): storing new keys and values in cache slots, attention over
 * each sequence's cached context through its block table, and block copies for copy-on-write and swapping. Checks
 * the operands against each other, moves host index tensors to the cache's device, and runs the backend's
 * {@link PagedKvKernels} (see there for the layout).
 *
 * <p>Index tensors are I32. Their values are checked (slots within the cache, block tables wide enough for the
 * context lengths, query rows within the contexts) when they are passed on the host, which is the usual case: the
 * scheduler builds them there. Device index tensors are only checked for shape, since reading them back would stall
 * the stream.
 */
public final class PagedKv {
    /** The largest head dimension the kernels take. */
    public static final int MAX_HEAD_DIM = 256;

    private PagedKv() {}

    // ---------------------------------------------------------------------------------------------------------------
    // writing the cache

    /**
     * keyCache[slotMapping[t]] = key[t] and valueCache[slotMapping[t]] = value[t] for every token t; key and value
     * are (T, Hkv, D), possibly strided views (a slice of a fused QKV projection) with a unit stride on D;
     * slotMapping is (T) I32, a negative slot skips the token.
     */
    public static void reshapeAndCache(Tensor keyCache, Tensor valueCache, Tensor key, Tensor value,
            Tensor slotMapping) {
        String op = "reshapeAndCache";
        checkCachePair(op, keyCache, valueCache);
        for (Object[] named : new Object[][] {{"key", key}, {"value", value}}) {
            String name = (String) named[0];
            Tensor t = (Tensor) named[1];
            if (t.rank() != 3 || t.shape().dim(1) != keyCache.shape().dim(2)
                    || t.shape().dim(2) != keyCache.shape().dim(3)) {
                throw new IllegalArgumentException(op + ": " + Checks.describe(name, t) + " must be (tokens, "
                        + keyCache.shape().dim(2) + ", " + keyCache.shape().dim(3) + ") to match "
                        + Checks.describe("keyCache", keyCache));
            }
            Checks.sameDtype(op, "keyCache", keyCache, name, t);
            Checks.sameDevice(op, "keyCache", keyCache, name, t);
        }
        Checks.sameShape(op, "key", key, "value", value);
        long tokens = key.shape().dim(0);
        Tensor slots = indexOperand(op, "slotMapping", slotMapping, 1, keyCache.device());
        if (slotMapping.shape().dim(0) != tokens) {
            throw new IllegalArgumentException(op + ": " + Checks.describe("slotMapping", slotMapping)
                    + " must have one slot per token (" + tokens + ")");
        }
        if (slotMapping.device().isCpu()) {
            long slotCount = keyCache.shape().dim(0) * keyCache.shape().dim(1);
            int[] s = hostInts(slotMapping);
            for (int t = 0; t < s.length; t++) {
                if (s[t] >= slotCount) {
                    throw new IndexOutOfBoundsException(op + ": slotMapping[" + t + "] = " + s[t] + " is beyond the "
                            + slotCount + " slots of " + Checks.describe("keyCache", keyCache)
                            + " (a negative slot skips the token)");
                }
            }
        }
        if (tokens == 0) {
            return;
        }
        Backends.of(keyCache).pagedKv().reshapeAndCache(keyCache, valueCache, unitLastStride(key),
                unitLastStride(value), slots);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // attention over the cache

    /**
     * Attention of query (T, Hq, D) over the cached contexts; returns out (T, Hq, D) in query's dtype. Sequence s owns
     * query rows [queryStarts[s], queryStarts[s + 1]), has contextLens[s] tokens cached (its new ones last) and reads
     * them through row s of blockTables (S, maxBlocksPerSequence). See {@link PagedKvKernels#pagedAttention}.
     */
    public static Tensor pagedAttention(Tensor query, Tensor keyCache, Tensor valueCache, Tensor blockTables,
            Tensor queryStarts, Tensor contextLens, PagedAttentionSpec spec) {
        Tensor out = Tensor.empty(query.shape(), query.dtype(), query.device());
        pagedAttention(out, query, keyCache, valueCache, blockTables, queryStarts, contextLens, spec);
        return out;
    }

    /** {@link #pagedAttention(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, PagedAttentionSpec)} into a given,
     * contiguous {@code out} of query's shape and dtype (a buffer the model runner reuses). */
    public static void pagedAttention(Tensor out, Tensor query, Tensor keyCache, Tensor valueCache,
            Tensor blockTables, Tensor queryStarts, Tensor contextLens, PagedAttentionSpec spec) {
        String op = "pagedAttention";
        checkCachePair(op, keyCache, valueCache);
        if (query.rank() != 3) {
            throw new IllegalArgumentException(op + ": " + Checks.describe("query", query)
                    + " must have rank 3 (tokens, heads, headDim)");
        }
        Checks.sameDtype(op, "keyCache", keyCache, "query", query);
        Checks.sameDevice(op, "keyCache", keyCache, "query", query);
        long hkv = keyCache.shape().dim(2);
        long d = keyCache.shape().dim(3);
        if (query.shape().dim(2) != d) {
            throw new IllegalArgumentException(op + ": head dims differ: " + Checks.describe("query", query) + ", "
                    + Checks.describe("keyCache", keyCache));
        }
        long hq = query.shape().dim(1);
        if (hq % hkv != 0) {
            throw new IllegalArgumentException(op + ": key/value heads (" + hkv + ") must divide query heads (" + hq
                    + ") for grouped-query attention");
        }
        Checks.sameShape(op, "out", out, "query", query);
        Checks.sameDtype(op, "out", out, "query", query);
        Checks.sameDevice(op, "out", out, "query", query);
        if (!out.isContiguous()) {
            throw new IllegalArgumentException(op + ": " + Checks.describe("out", out) + " must be contiguous");
        }
        Device device = keyCache.device();
        Tensor tables = indexOperand(op, "blockTables", blockTables, 2, device);
        Tensor starts = indexOperand(op, "queryStarts", queryStarts, 1, device);
        Tensor lens = indexOperand(op, "contextLens", contextLens, 1, device);
        long seqs = contextLens.shape().dim(0);
        if (blockTables.shape().dim(0) != seqs || queryStarts.shape().dim(0) != seqs + 1) {
            throw new IllegalArgumentException(op + ": for " + seqs + " sequences (" + Checks.describe("contextLens",
                    contextLens) + ") blockTables must have " + seqs + " rows and queryStarts " + (seqs + 1)
                    + " entries, got " + Checks.describe("blockTables", blockTables) + ", "
                    + Checks.describe("queryStarts", queryStarts));
        }
        if (blockTables.device().isCpu() && queryStarts.device().isCpu() && contextLens.device().isCpu()) {
            checkSequences(op, query.shape().dim(0), keyCache, hostInts(blockTables),
                    (int) blockTables.shape().dim(1), hostInts(queryStarts), hostInts(contextLens), spec);
        }
        if (seqs == 0) {
            return;
        }
        Backends.of(keyCache).pagedKv().pagedAttention(out, unitLastStride(query), keyCache, valueCache, tables,
                starts, lens, spec);
    }

    /** The index values of one pagedAttention call, on the host: every sequence's rows, context and blocks. */
    private static void checkSequences(String op, long tokens, Tensor keyCache, int[] tables, int tableWidth,
            int[] starts, int[] lens, PagedAttentionSpec spec) {
        int blockSize = (int) keyCache.shape().dim(1);
        long numBlocks = keyCache.shape().dim(0);
        if (starts[0] != 0 || starts[lens.length] != tokens) {
            throw new IllegalArgumentException(op + ": queryStarts must run from 0 to the " + tokens
                    + " query rows, got " + Arrays.toString(starts));
        }
        for (int s = 0; s < lens.length; s++) {
            int nq = starts[s + 1] - starts[s];
            if (nq < 1 || nq > spec.maxQueryLength()) {
                throw new IllegalArgumentException(op + ": sequence " + s + " has " + nq + " query rows (queryStarts["
                        + s + "] = " + starts[s] + ", queryStarts[" + (s + 1) + "] = " + starts[s + 1]
                        + "), expected 1 to spec.maxQueryLength = " + spec.maxQueryLength());
            }
            if (lens[s] < nq || lens[s] > spec.maxContextLength()) {
                throw new IllegalArgumentException(op + ": contextLens[" + s + "] = " + lens[s] + " must count the "
                        + nq + " new tokens and at most spec.maxContextLength = " + spec.maxContextLength());
            }
            int blocks = (lens[s] + blockSize - 1) / blockSize;
            if (blocks > tableWidth) {
                throw new IllegalArgumentException(op + ": contextLens[" + s + "] = " + lens[s] + " needs " + blocks
                        + " blocks of " + blockSize + " but blockTables has " + tableWidth + " columns");
            }
            for (int j = 0; j < blocks; j++) {
                int b = tables[s * tableWidth + j];
                if (b < 0 || b >= numBlocks) {
                    throw new IndexOutOfBoundsException(op + ": blockTables[" + s + ", " + j + "] = " + b
                            + " is not a block of " + Checks.describe("keyCache", keyCache) + " (expected 0 to "
                            + (numBlocks - 1) + ")");
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // block copies

    /**
     * Copy-on-write: in every cache of {@code caches} (typically all layers' key and value caches; same shape, dtype
     * and device), block destinations[i] becomes a copy of block sources[i]. Destinations are distinct and are not
     * sources, so the copies may run in any order.
     */
    public static void copyBlocks(List<Tensor> caches, int[] sources, int[] destinations) {
        String op = "copyBlocks";
        if (caches.isEmpty()) {
            throw new IllegalArgumentException(op + ": no caches given");
        }
        Tensor first = caches.get(0);
        for (int i = 0; i < caches.size(); i++) {
            Tensor c = caches.get(i);
            String name = "caches[" + i + "]";
            checkCache(op, name, c);
            Checks.sameShape(op, "caches[0]", first, name, c);
            Checks.sameDtype(op, "caches[0]", first, name, c);
            Checks.sameDevice(op, "caches[0]", first, name, c);
        }
        checkBlockPairs(op, sources, first.shape().dim(0), destinations, first.shape().dim(0));
        if (sources.length == 0) {
            return;
        }
        Backends.of(first).pagedKv().copyBlocks(List.copyOf(caches), sources.clone(), destinations.clone());
    }

    /**
     * Swapping: block destinations[i] of {@code dst} becomes a copy of block sources[i] of {@code src}. The caches
     * have the same block shape (blockSize, Hkv, D) and dtype and may live on different devices (GPU pool to CPU
     * pool and back); the backend of the device side does the copy.
     */
    public static void swapBlocks(Tensor src, Tensor dst, int[] sources, int[] destinations) {
        String op = "swapBlocks";
        checkCache(op, "src", src);
        checkCache(op, "dst", dst);
        Checks.sameDtype(op, "src", src, "dst", dst);
        if (!src.shape().slice(1, 4).equals(dst.shape().slice(1, 4))) {
            throw new IllegalArgumentException(op + ": block shapes differ: " + Checks.describe("src", src) + ", "
                    + Checks.describe("dst", dst));
        }
        if (!src.device().isCpu() && !dst.device().isCpu() && !src.device().equals(dst.device())) {
            throw new IllegalArgumentException(op + ": " + Checks.describe("src", src) + " and "
                    + Checks.describe("dst", dst) + " are on two GPUs; swap through a CPU pool");
        }
        checkBlockPairs(op, sources, src.shape().dim(0), destinations, dst.shape().dim(0));
        if (sources.length == 0) {
            return;
        }
        Tensor deviceSide = src.device().isCpu() ? dst : src;
        Backends.of(deviceSide).pagedKv().swapBlocks(src, dst, sources.clone(), destinations.clone());
    }

    /** Equal lengths, ids in range, destinations distinct; within one pool also no destination among the sources. */
    private static void checkBlockPairs(String op, int[] sources, long sourceBlocks, int[] destinations,
            long destinationBlocks) {
        if (sources.length != destinations.length) {
            throw new IllegalArgumentException(op + ": " + sources.length + " sources but " + destinations.length
                    + " destinations");
        }
        for (int i = 0; i < sources.length; i++) {
            if (sources[i] < 0 || sources[i] >= sourceBlocks) {
                throw new IndexOutOfBoundsException(op + ": sources[" + i + "] = " + sources[i]
                        + " is out of range [0, " + sourceBlocks + ")");
            }
            if (destinations[i] < 0 || destinations[i] >= destinationBlocks) {
                throw new IndexOutOfBoundsException(op + ": destinations[" + i + "] = " + destinations[i]
                        + " is out of range [0, " + destinationBlocks + ")");
            }
        }
        int[] sorted = destinations.clone();
        Arrays.sort(sorted);
        for (int i = 1; i < sorted.length; i++) {
            if (sorted[i] == sorted[i - 1]) {
                throw new IllegalArgumentException(op + ": block " + sorted[i] + " appears twice in destinations "
                        + Arrays.toString(destinations));
            }
        }
        if (op.equals("copyBlocks")) {
            for (int i = 0; i < sources.length; i++) {
                if (Arrays.binarySearch(sorted, sources[i]) >= 0) {
                    throw new IllegalArgumentException(op + ": sources[" + i + "] = " + sources[i]
                            + " is also a destination; a copy-on-write target is a fresh block");
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // operand checks

    private static void checkCachePair(String op, Tensor keyCache, Tensor valueCache) {
        checkCache(op, "keyCache", keyCache);
        checkCache(op, "valueCache", valueCache);
        Checks.sameShape(op, "keyCache", keyCache, "valueCache", valueCache);
        Checks.sameDtype(op, "keyCache", keyCache, "valueCache", valueCache);
        Checks.sameDevice(op, "keyCache", keyCache, "valueCache", valueCache);
    }

    /** A contiguous (numBlocks, blockSize, Hkv, D) floating tensor in a dtype its device has kernels for. */
    private static void checkCache(String op, String name, Tensor cache) {
        if (cache.rank() != 4) {
            throw new IllegalArgumentException(op + ": " + Checks.describe(name, cache)
                    + " must have rank 4 (numBlocks, blockSize, kvHeads, headDim)");
        }
        Checks.floating(op, name, cache);
        if (!cache.device().isCpu() && cache.dtype() == DType.F64) {
            throw new IllegalArgumentException(op + ": " + Checks.describe(name, cache)
                    + ": the GPU kernels take F32, BF16 or F16; F64 caches are for the CPU reference");
        }
        if (!cache.isContiguous()) {
            throw new IllegalArgumentException(op + ": " + Checks.describe(name, cache) + " must be contiguous");
        }
        for (int axis = 0; axis < 4; axis++) {
            if (cache.shape().dim(axis) < 1) {
                throw new IllegalArgumentException(op + ": " + Checks.describe(name, cache)
                        + " has an empty axis " + axis);
            }
        }
        if (cache.shape().dim(3) > MAX_HEAD_DIM) {
            throw new IllegalArgumentException(op + ": head dim must be at most " + MAX_HEAD_DIM + ", got "
                    + cache.shape().dim(3) + " in " + Checks.describe(name, cache));
        }
    }

    /** Checks an I32 index tensor's rank and returns it contiguous on {@code device} (copied there from the host). */
    private static Tensor indexOperand(String op, String name, Tensor t, int rank, Device device) {
        if (t.dtype() != DType.I32) {
            throw new IllegalArgumentException(op + ": " + Checks.describe(name, t) + " must be I32"
                    + (t.dtype().isInteger() ? "; cast it with cast(DType.I32)" : ""));
        }
        Checks.rank(op, name, t, rank);
        if (!t.device().isCpu() && !t.device().equals(device)) {
            throw new IllegalArgumentException(op + ": " + Checks.describe(name, t) + " must be on the host or on "
                    + device + " with the cache");
        }
        return t.to(device).contiguous();
    }

    /** The values of a host I32 tensor in row-major order. */
    private static int[] hostInts(Tensor t) {
        long[] values = t.toLongArray();
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (int) values[i];
        }
        return out;
    }

    /** A view with stride 1 on the head dimension, copying only when the tensor lacks it. */
    private static Tensor unitLastStride(Tensor t) {
        return t.stride(-1) == 1 || t.shape().last() == 1 ? t : t.contiguous();
    }
}
