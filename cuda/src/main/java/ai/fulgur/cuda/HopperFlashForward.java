package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionSpec;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.JCudaDriver;

/**
 * The Hopper FlashAttention forward (flash_attention_hopper.cu: wgmma with operands in 128-byte-swizzled shared
 * memory, sm_90a machine code only): launch parameters and the rule for when it replaces the mma.sync forward of
 * {@link FlashKernels}. It takes the same {@code FlashParams} as {@code flash_fwd_*} and writes the same O and
 * logsumexp, so the mma.sync backward reads them unchanged.
 *
 * <p>It runs for BF16/F16 inputs with head dim 64 or 128 on a device of compute capability exactly 9.0 (the fatbin's
 * sm_90a code loads nowhere else, and its compute_90 PTX holds an empty body), dense or causal attention (any softmax
 * scale, grouped-query heads, Nq ≠ Nk) without dropout, sliding windows, block-sparse layouts, key lengths or packed
 * sequences; every other call keeps the mma.sync kernels. The system property {@code fulgur.flash.hopper} set to
 * {@code false} turns it off.
 *
 * @param dtypeName  kernel-name part of the element type, {@code bf16} or {@code f16}
 * @param headDim    64 or 128
 * @param warpgroups warpgroups of a block, each owning 64 query rows (flash_attention_hopper.cu's instantiations)
 * @param keys       key rows of a key/value tile
 */
record HopperFlashForward(String dtypeName, int headDim, int warpgroups, int keys) {
    static final String MODULE = "flash_attention_hopper";

    private static final Set<String> CONFIGURED = ConcurrentHashMap.newKeySet();

    /** Whether the Hopper forward is enabled ({@code -Dfulgur.flash.hopper=false} turns it off). */
    static boolean enabled() {
        return !"false".equalsIgnoreCase(System.getProperty("fulgur.flash.hopper", "true"));
    }

    /**
     * The Hopper forward for these inputs on a device of compute capability {@code cc}, or null when the mma.sync
     * forward must run (another architecture, head dim or option; see the class comment).
     */
    static HopperFlashForward select(Tensor q, AttentionSpec spec, int cc) {
        if (!enabled() || cc != 90) {
            return null;
        }
        int headDim = (int) q.shape().dim(3);
        boolean typeOk = q.dtype() == DType.BF16 || q.dtype() == DType.F16;
        boolean options = spec.dropoutP() == 0 && spec.layout() == null && spec.windowLeft() == -1
                && (spec.windowRight() == -1 || spec.windowRight() == 0) && !spec.isPacked()
                && spec.keyLengths() == null;
        if (!typeOk || !options || (headDim != 64 && headDim != 128)) {
            return null;
        }
        String type = q.dtype() == DType.BF16 ? "bf16" : "f16";
        // the tiles of the .cu instantiations (measured on an H200, docs/PERF.md "Hopper forward")
        return headDim == 64 ? new HopperFlashForward(type, 64, 1, 64) : new HopperFlashForward(type, 128, 2, 128);
    }

    String kernelName() {
        return "flash_fwd_hopper_" + dtypeName + "_d" + headDim;
    }

    /** Query rows of a block. */
    int rows() {
        return 64 * warpgroups;
    }

    /** Q tile, two K and two V tiles, and 1024 bytes to align the swizzled tiles. */
    int sharedBytes() {
        return (rows() + 4 * keys) * headDim * 2 + 1024;
    }

    /**
     * Launches the kernel on {@code d}'s stream: one block per (query tile, query head, batch entry).
     *
     * @param params the FlashParams fields as CudaAttention builds them
     */
    void launch(CudaDevice d, long[] params, long queries, long heads, long batch) {
        String name = kernelName();
        int smem = sharedBytes();
        if (CONFIGURED.add(d.index() + "/" + name)) {
            JCudaDriver.cuFuncSetAttribute(d.function(MODULE, name),
                    CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem);
        }
        d.launch3(MODULE, name, Math.ceilDiv(queries, rows()), heads, batch, 128 * warpgroups, smem, params);
    }
}
