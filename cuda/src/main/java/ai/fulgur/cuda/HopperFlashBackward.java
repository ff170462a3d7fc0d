package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionSpec;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.JCudaDriver;

/**
 * The Hopper FlashAttention backward (flash_attention_hopper_backward.cu: wgmma with operands in 128-byte-swizzled
 * shared memory, sm_90a machine code only): launch parameters and the rule for when it replaces the mma.sync
 * {@code flash_bwd_fused_*} kernel of {@link FlashKernels}. It takes the same {@code FlashParams}, reads the same D
 * rows ({@code flash_bwd_delta_*}) and adds dQ / scale into the same F32 buffer with atomics, which
 * {@code flash_bwd_dq_convert_*} then scales into dq; dK and dV it writes itself.
 *
 * <p>It runs for BF16/F16 inputs with head dim 64 or 128 on a device of compute capability exactly 9.0 (the fatbin's
 * sm_90a code loads nowhere else, and its compute_90 PTX holds an empty body), dense or causal attention (any softmax
 * scale, grouped-query heads, Nq ≠ Nk) without dropout, sliding windows, block-sparse layouts, key lengths, packed
 * sequences or {@link AttentionSpec#deterministic()} (its dQ atomics add in no fixed order; the deterministic mode
 * keeps the mma.sync dQ and dK/dV passes). Every other call keeps the mma.sync kernels. The system property
 * {@code fulgur.flash.hopperBackward} set to {@code false} turns it off.
 *
 * @param dtypeName  kernel-name part of the element type, {@code bf16} or {@code f16}
 * @param headDim    64 or 128
 * @param warpgroups warpgroups of a block, each owning 64 keys (flash_attention_hopper_backward.cu's instantiations)
 * @param queries    query rows of a query tile
 */
record HopperFlashBackward(String dtypeName, int headDim, int warpgroups, int queries) {
    static final String MODULE = "flash_attention_hopper_backward";

    private static final Set<String> CONFIGURED = ConcurrentHashMap.newKeySet();

    /** Whether the Hopper backward is enabled ({@code -Dfulgur.flash.hopperBackward=false} turns it off). */
    static boolean enabled() {
        return !"false".equalsIgnoreCase(System.getProperty("fulgur.flash.hopperBackward", "true"));
    }

    /**
     * The Hopper backward for these inputs on a device of compute capability {@code cc}, or null when the mma.sync
     * backward must run (another architecture, head dim or option; see the class comment).
     */
    static HopperFlashBackward select(Tensor q, AttentionSpec spec, int cc) {
        if (!enabled() || cc != 90) {
            return null;
        }
        int headDim = (int) q.shape().dim(3);
        boolean typeOk = q.dtype() == DType.BF16 || q.dtype() == DType.F16;
        boolean options = spec.dropoutP() == 0 && spec.layout() == null && spec.windowLeft() == -1
                && (spec.windowRight() == -1 || spec.windowRight() == 0) && !spec.isPacked()
                && spec.keyLengths() == null && !spec.deterministic();
        if (!typeOk || !options || (headDim != 64 && headDim != 128)) {
            return null;
        }
        String type = q.dtype() == DType.BF16 ? "bf16" : "f16";
        // the tiles of the .cu instantiations (measured on an H200, docs/PERF.md "Hopper backward")
        return headDim == 64 ? new HopperFlashBackward(type, 64, 2, 128) : new HopperFlashBackward(type, 128, 2, 64);
    }

    String kernelName() {
        return "flash_bwd_hopper_" + dtypeName + "_d" + headDim;
    }

    /** Key rows of a block. */
    int keys() {
        return 64 * warpgroups;
    }

    /**
     * K and V tiles, two Q and two dO tiles, the dSᵀ tile (keys × queries), two lse and two D rows (F32), and 1024
     * bytes to align the swizzled tiles.
     */
    int sharedBytes() {
        return (2 * keys() + 4 * queries) * headDim * 2 + keys() * queries * 2 + 16 * queries + 1024;
    }

    /**
     * Launches the kernel on {@code d}'s stream: one block per (key tile, key/value head, batch entry). The D rows
     * and the zeroed dQ buffer must be in place (their addresses in {@code params}).
     *
     * @param params the FlashParams fields as CudaAttention builds them
     */
    void launch(CudaDevice d, long[] params, long keysLength, long kvHeads, long batch) {
        String name = kernelName();
        int smem = sharedBytes();
        if (CONFIGURED.add(d.index() + "/" + name)) {
            JCudaDriver.cuFuncSetAttribute(d.function(MODULE, name),
                    CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem);
        }
        d.launch3(MODULE, name, Math.ceilDiv(keysLength, keys()), kvHeads, batch, 128 * warpgroups, smem, params);
    }
}
