package ai.fulgur.inference.runner;

import ai.djl.ndarray.NDArray;
import ai.fulgur.autograd.Variable;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionSpec;
import ai.fulgur.ops.kvcache.PagedAttentionSpec;
import ai.fulgur.ops.kvcache.PagedKv;
import ai.fulgur.training.nn.CachedAttention;

/**
 * A {@link CachedAttention} over the paged pools for one step's {@link PagedBatch}: the layers see one row of T
 * tokens (B = 1, n = T); each layer stores its new keys and values in their slots and runs paged attention over the
 * block tables. The index tensors go to the device once per step, not once per layer.
 */
final class PagedCacheAttention implements CachedAttention {
    private final PagedKvPools pools;
    private final Tensor slotMapping;
    private final Tensor blockTables;
    private final Tensor queryStarts;
    private final Tensor contextLens;
    private final int maxQueryLength;
    private final int maxContextLength;

    PagedCacheAttention(PagedKvPools pools, PagedBatch batch) {
        this.pools = pools;
        Device device = pools.keys(0).device();
        int seqs = batch.numSequences();
        slotMapping = Tensor.of(batch.slotMapping(), batch.slotMapping().length).to(device);
        blockTables = Tensor.of(batch.blockTables(), seqs, batch.maxBlocks()).to(device);
        queryStarts = Tensor.of(batch.queryStarts(), seqs + 1).to(device);
        contextLens = Tensor.of(batch.contextLens(), seqs).to(device);
        maxQueryLength = batch.maxQueryLength();
        maxContextLength = batch.maxContextLength();
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
        PagedKv.reshapeAndCache(pools.keys(layer), pools.values(layer), key, value, slotMapping);
        Tensor out = PagedKv.pagedAttention(query.contiguous(), pools.keys(layer), pools.values(layer), blockTables,
                queryStarts, contextLens, new PagedAttentionSpec(spec.softmaxScale(), maxQueryLength,
                        maxContextLength));                                                     // (T, Hq, D)
        return FulgurNDArray.wrap(q.getManager(), Variable.constant(out.unsqueeze(0)));
    }

    /** (1, T, H, D) → (T, H, D) as a view (the strides of a slice of the fused projection are kept). */
    private static Tensor squeezeBatch(Tensor t) {
        return t.squeeze(0);
    }
}
