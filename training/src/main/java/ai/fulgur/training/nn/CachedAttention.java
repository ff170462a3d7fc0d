package ai.fulgur.training.nn;

import ai.djl.ndarray.NDArray;
import ai.fulgur.ops.attention.AttentionSpec;

/**
 * The seam between a layer's attention and a key/value cache during inference: the layer projects its new tokens to
 * q, k and v and hands them here; the cache stores k and v where they belong and returns the attention of q over
 * everything its sequence has cached, the new tokens included (causally, each query seeing its own position and
 * the ones before).
 *
 * <p>Two implementations: {@link KvCache}, contiguous and per sequence (a batch (B, n) of equal-length sequences),
 * and the serving engine's paged cache in the inference module, where a ragged batch of sequences is flattened to
 * (1, T) tokens and each sequence's keys and values live in blocks named by its block table. The layers do not know
 * which one they run over.
 */
public interface CachedAttention {

    /**
     * Stores the new keys and values of layer {@code layer} and attends.
     *
     * @param layer the layer's index, 0 … L − 1
     * @param q     new queries (B, n, Hq, D)
     * @param k     new keys (B, n, Hkv, D)
     * @param v     new values (B, n, Hkv, D)
     * @param spec  the layer's options (scale, causal, window); dense (no block-sparse layout)
     * @return the attention output (B, n, Hq, D), in q's manager
     */
    NDArray attend(int layer, NDArray q, NDArray k, NDArray v, AttentionSpec spec);
}
