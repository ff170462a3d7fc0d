package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionSpec;

/**
 * The attention calls the Hopper (wgmma, sm_90a) kernels cover, forward and backward alike: BF16/F16 inputs with head
 * dim 64 or 128 on a device of compute capability exactly 9.0 (the fatbins' sm_90a code loads nowhere else, and their
 * compute_90 PTX holds empty bodies), dense or causal attention (any softmax scale, grouped-query heads, Nq ≠ Nk)
 * without dropout, sliding windows, block-sparse layouts, key lengths or packed sequences. Every other call keeps the
 * mma.sync kernels of {@link FlashKernels}.
 */
final class HopperCoverage {
    private HopperCoverage() {}

    /** Whether the Hopper kernels take this call (see the class comment). */
    static boolean covers(Tensor q, AttentionSpec spec, int cc) {
        if (cc != 90 || (q.dtype() != DType.BF16 && q.dtype() != DType.F16)) {
            return false;
        }
        long headDim = q.shape().dim(3);
        return (headDim == 64 || headDim == 128) && spec.dropoutP() == 0 && spec.layout() == null
                && spec.windowLeft() == -1 && (spec.windowRight() == -1 || spec.windowRight() == 0)
                && !spec.isPacked() && spec.keyLengths() == null;
    }

    /** Whether the system property {@code property} leaves a Hopper kernel on (only {@code false} turns it off). */
    static boolean enabled(String property) {
        return !"false".equalsIgnoreCase(System.getProperty(property, "true"));
    }

    /** Kernel-name part of q's element type: {@code bf16} or {@code f16}. */
    static String dtypeName(Tensor q) {
        return q.dtype() == DType.BF16 ? "bf16" : "f16";
    }
}
