package ai.fulgur.ops.attention;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Tensor;

/**
 * Kernel SPI: exact attention by tiling (FlashAttention), forward and backward with recomputation, dense or
 * block-sparse.
 *
 * <p>Layout: q (B, Nq, Hq, D), k and v (B, Nk, Hkv, D), any strides on the first three axes, stride 1 on D (so both
 * (B, N, H, D) buffers and transposed (B, H, N, D) views work without copies). A packed batch passes its (total, H,
 * D) tensors as (1, total, H, D) with cu_seqlens in the spec. Hkv divides Hq (grouped-query attention: query head h
 * reads key/value head h / (Hq / Hkv)). o and dq have q's shape, dk and dv k's shape, all contiguous. lse is F32
 * (B, Hq, Nq) contiguous (packed: (1, Hq, totalQ)).
 */
public interface AttentionKernels {

    /** o = softmax(q·kᵀ·scale, masked) · v, with the row logsumexp saved in lse; never materialises Nq × Nk. */
    void flashForward(Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v, AttentionSpec spec);

    /**
     * dq, dk, dv from do (o's shape), recomputing the attention probabilities tile by tile from q, k and lse; D =
     * rowsum(do ∘ o) is computed first. Outputs are overwritten, not accumulated.
     */
    void flashBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o,
            Tensor lse, AttentionSpec spec);

    /**
     * Whether these kernels take inputs of {@code dtype} with head dim {@code headDim} on {@code device}. Where they
     * do not, callers compose attention from standard ops instead, as PyTorch's scaled_dot_product_attention falls
     * back to its math backend. The CPU kernels take any head dim.
     */
    default boolean supports(DType dtype, int headDim, Device device) {
        return true;
    }
}
