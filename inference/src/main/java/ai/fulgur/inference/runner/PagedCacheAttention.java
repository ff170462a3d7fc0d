package ai.fulgur.inference.runner;

import ai.djl.ndarray.NDArray;
import ai.fulgur.autograd.Variable;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.Attention;
import ai.fulgur.ops.attention.AttentionSpec;
import ai.fulgur.ops.indexing.Indexing;
import ai.fulgur.ops.kvcache.PagedAttentionSpec;
import ai.fulgur.ops.kvcache.PagedKv;
import ai.fulgur.training.nn.CachedAttention;

/**
 * A {@link CachedAttention} over the paged pools for one step's {@link PagedBatch}: the layers see one row of T
 * tokens (B = 1, n = T); each layer stores its new keys and values in their slots, then attends.
 *
 * <p>Two paths. Decode rows (one new token per sequence) run paged attention over the block tables. Prefill chunks
 * (several new tokens per sequence) run the FlashAttention kernels: each such sequence's context is gathered through
 * its block table into a packed (keys, Hkv, D) buffer and the chunk attends to it as one sequence of a variable-length
 * batch, causal with the diagonal aligned bottom-right (so a chunk after a cached prefix sees the prefix). A step
 * mixing both splits its rows and puts the outputs back in place. Where the flash kernels do not apply (the CUDA ones
 * take BF16/F16 with head dim 64 or 128), or with {@code -Dfulgur.paged.prefill=rows}, prefill rows run the paged
 * kernel's row path too. Index tensors go to the device once per step, not once per layer.
 */
final class PagedCacheAttention implements CachedAttention {
    private final PagedKvPools pools;
    private final Tensor slotMapping;
    // paged kernel over the decode rows (all rows when there is no flash prefill)
    private final Tensor pagedRows;          // null: every row
    private final Tensor blockTables;
    private final Tensor queryStarts;
    private final Tensor contextLens;
    private final int maxQueryLength;
    private final int maxContextLength;
    // flash prefill: its rows, the gathered context slots and the packed batch's offsets; null when unused
    private final Tensor prefillRows;
    private final Tensor contextSlots;
    private final Tensor cuSeqlensQ;
    private final Tensor cuSeqlensK;

    PagedCacheAttention(PagedKvPools pools, PagedBatch batch) {
        this.pools = pools;
        Tensor cache = pools.keys(0);
        Device device = cache.device();
        int seqs = batch.numSequences();
        int[] starts = batch.queryStarts();
        int[] contexts = batch.contextLens();
        slotMapping = Tensor.of(batch.slotMapping(), batch.slotMapping().length).to(device);
        boolean flash = batch.maxQueryLength() > 1 && flashPrefill(cache);
        int decodeSeqs = 0;
        int prefillTokens = 0;
        int contextTokens = 0;
        for (int s = 0; s < seqs; s++) {
            int nq = starts[s + 1] - starts[s];
            if (flash && nq > 1) {
                prefillTokens += nq;
                contextTokens += contexts[s];
            } else {
                decodeSeqs++;
            }
        }
        if (!flash) {
            pagedRows = null;
            blockTables = Tensor.of(batch.blockTables(), seqs, batch.maxBlocks()).to(device);
            queryStarts = Tensor.of(starts, seqs + 1).to(device);
            contextLens = Tensor.of(contexts, seqs).to(device);
            maxQueryLength = batch.maxQueryLength();
            maxContextLength = batch.maxContextLength();
            prefillRows = contextSlots = cuSeqlensQ = cuSeqlensK = null;
            return;
        }
        int maxBlocks = batch.maxBlocks();
        int blockSize = (int) cache.shape().dim(1);
        int[] decodeRows = new int[decodeSeqs];
        int[] decodeTables = new int[Math.max(1, decodeSeqs) * maxBlocks];
        int[] decodeStarts = new int[decodeSeqs + 1];
        int[] decodeContexts = new int[decodeSeqs];
        int[] rows = new int[prefillTokens];
        int[] slots = new int[contextTokens];
        int prefillSeqs = seqs - decodeSeqs;
        int[] cuQ = new int[prefillSeqs + 1];
        int[] cuK = new int[prefillSeqs + 1];
        int d = 0;
        int p = 0;
        int longestDecode = 1;
        for (int s = 0; s < seqs; s++) {
            int nq = starts[s + 1] - starts[s];
            if (nq == 1) {
                decodeRows[d] = starts[s];
                System.arraycopy(batch.blockTables(), s * maxBlocks, decodeTables, d * maxBlocks, maxBlocks);
                decodeContexts[d] = contexts[s];
                longestDecode = Math.max(longestDecode, contexts[s]);
                d++;
                decodeStarts[d] = d;
                continue;
            }
            for (int i = 0; i < nq; i++) {
                rows[cuQ[p] + i] = starts[s] + i;
            }
            for (int j = 0; j < contexts[s]; j++) {
                slots[cuK[p] + j] = batch.blockTables()[s * maxBlocks + j / blockSize] * blockSize + j % blockSize;
            }
            cuQ[p + 1] = cuQ[p] + nq;
            cuK[p + 1] = cuK[p] + contexts[s];
            p++;
        }
        pagedRows = decodeSeqs == 0 ? null : Tensor.of(decodeRows, decodeSeqs).to(device);
        blockTables = decodeSeqs == 0 ? null : Tensor.of(decodeTables, decodeSeqs, maxBlocks).to(device);
        queryStarts = decodeSeqs == 0 ? null : Tensor.of(decodeStarts, decodeSeqs + 1).to(device);
        contextLens = decodeSeqs == 0 ? null : Tensor.of(decodeContexts, decodeSeqs).to(device);
        maxQueryLength = 1;
        maxContextLength = longestDecode;
        prefillRows = Tensor.of(rows, rows.length).to(device);
        contextSlots = Tensor.of(slots, slots.length).to(device);
        cuSeqlensQ = Tensor.of(cuQ, cuQ.length).to(device);
        cuSeqlensK = Tensor.of(cuK, cuK.length).to(device);
    }

    /** Whether prefill chunks go to the FlashAttention kernels for caches like {@code cache} (N, block, Hkv, D). */
    private static boolean flashPrefill(Tensor cache) {
        if ("rows".equals(System.getProperty("fulgur.paged.prefill"))) {
            return false;
        }
        if (cache.device().isCpu()) {
            return true;
        }
        long d = cache.shape().dim(3);
        return (cache.dtype() == DType.BF16 || cache.dtype() == DType.F16) && (d == 64 || d == 128);
    }

    /** {@inheritDoc} q (1, T, Hq, D), k and v (1, T, Hkv, D); causal attention without a window only. */
    @Override
    public NDArray attend(int layer, NDArray q, NDArray k, NDArray v, AttentionSpec spec) {
        if (!spec.causal() || spec.windowLeft() >= 0) {
            throw new UnsupportedOperationException("the paged cache runs causal attention without a sliding window, "
                    + "got causal " + spec.causal() + ", window left " + spec.windowLeft());
        }
        if (q.getShape().dimension() != 4 || q.getShape().get(0) != 1) {
            throw new IllegalArgumentException("the paged cache takes one flattened row of tokens, q (1, T, Hq, D), "
                    + "got " + q.getShape());
        }
        Tensor query = squeezeBatch(FulgurNDArray.variableOf(q, "pagedAttention").data());     // (T, Hq, D)
        Tensor key = squeezeBatch(FulgurNDArray.variableOf(k, "reshapeAndCache").data());      // (T, Hkv, D)
        Tensor value = squeezeBatch(FulgurNDArray.variableOf(v, "reshapeAndCache").data());    // (T, Hkv, D)
        Tensor keys = pools.keys(layer);
        Tensor values = pools.values(layer);
        PagedKv.reshapeAndCache(keys, values, key, value, slotMapping);
        Tensor out;
        if (prefillRows == null) {
            out = paged(query, keys, values, spec);
        } else {
            out = Tensor.zeros(query.shape(), query.dtype(), query.device());
            if (pagedRows != null) {
                Indexing.indexAddInto(out, 0, pagedRows, paged(Indexing.indexSelect(query, 0, pagedRows), keys,
                        values, spec));
            }
            Indexing.indexAddInto(out, 0, prefillRows, prefill(query, keys, values, spec));
        }
        return FulgurNDArray.wrap(q.getManager(), Variable.constant(out.unsqueeze(0)));
    }

    /** Paged attention of {@code rows} (R, Hq, D) over the block tables. */
    private Tensor paged(Tensor rows, Tensor keys, Tensor values, AttentionSpec spec) {
        return PagedKv.pagedAttention(rows, keys, values, blockTables, queryStarts, contextLens,
                new PagedAttentionSpec(spec.softmaxScale(), maxQueryLength, maxContextLength));
    }

    /** The prefill rows' attention (rows, Hq, D): their contexts gathered, then one packed flash call. */
    private Tensor prefill(Tensor query, Tensor keys, Tensor values, AttentionSpec spec) {
        Tensor q = Indexing.indexSelect(query, 0, prefillRows);
        Tensor k = Indexing.indexSelect(flatSlots(keys), 0, contextSlots);
        Tensor v = Indexing.indexSelect(flatSlots(values), 0, contextSlots);
        AttentionSpec packed = new AttentionSpec(spec.softmaxScale(), true, -1, 0, 0, 0, 0, null, cuSeqlensQ,
                cuSeqlensK, null);
        return Attention.flashForward(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), packed).out().squeeze(0);
    }

    /** A cache (N, block, Hkv, D) as its slots (N·block, Hkv, D). */
    private static Tensor flatSlots(Tensor cache) {
        Shape s = cache.shape();
        return cache.reshape(s.dim(0) * s.dim(1), s.dim(2), s.dim(3));
    }

    /** (1, T, H, D) → (T, H, D) as a view: the kernels read the strided slices of the fused projection in place. */
    private static Tensor squeezeBatch(Tensor t) {
        return t.squeeze(0);
    }
}
