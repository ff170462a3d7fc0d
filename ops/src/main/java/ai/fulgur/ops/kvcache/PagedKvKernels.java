package ai.fulgur.ops.kvcache;

import ai.fulgur.ops.Tensor;
import java.util.List;

/**
 * Kernel SPI: the paged KV cache of PagedAttention.
 *
 * <p>Layout: one layer's cache is a pair keyCache, valueCache, each (numBlocks, blockSize, Hkv, D) and contiguous;
 * cache slot s is row s % blockSize of block s / blockSize. A sequence's logical token j lives in physical block
 * blockTable[j / blockSize] at row j % blockSize. Index tensors (slot mapping, block tables, query starts, context
 * lengths) are I32 on the cache's device.
 */
public interface PagedKvKernels {

    /**
     * Stores new keys and values in their slots: keyCache[slot[t]] = key[t] and valueCache[slot[t]] = value[t] for
     * each token t; key and value are (T, Hkv, D), slotMapping is (T); a negative slot is skipped (padding).
     */
    void reshapeAndCache(Tensor keyCache, Tensor valueCache, Tensor key, Tensor value, Tensor slotMapping);

    /**
     * Attention of new queries over each sequence's cached context, read through its block table. Sequence s owns
     * query rows [queryStarts[s], queryStarts[s + 1]) of query (T, Hq, D) and has contextLens[s] tokens in the cache,
     * its new tokens being the last nq_s = queryStarts[s + 1] − queryStarts[s] of them (already stored by
     * {@link #reshapeAndCache}). Query row i of s sits at position contextLens[s] − nq_s + i and attends causally to
     * the positions up to its own. blockTables is (S, maxBlocksPerSequence); out has query's shape. Query head h
     * reads key/value head h / (Hq / Hkv). Decode is the case nq_s = 1 for every s.
     */
    void pagedAttention(Tensor out, Tensor query, Tensor keyCache, Tensor valueCache, Tensor blockTables,
            Tensor queryStarts, Tensor contextLens, PagedAttentionSpec spec);

    /**
     * Copy-on-write: for every cache in {@code caches} (all on this backend's device, same shape) and every i,
     * block destinations[i] becomes a copy of block sources[i].
     */
    void copyBlocks(List<Tensor> caches, int[] sources, int[] destinations);

    /**
     * Swapping: block destinations[i] of {@code dst} becomes a copy of block sources[i] of {@code src}; the two
     * caches have the same block shape and may live on different devices (GPU pool ↔ CPU pool).
     */
    void swapBlocks(Tensor src, Tensor dst, int[] sources, int[] destinations);
}
