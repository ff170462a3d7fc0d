package ai.fulgur.cuda;

import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionSpec;

/**
 * The Hopper FlashAttention backward (flash_attention_hopper_backward.cu: wgmma with operands in 128-byte-swizzled
 * shared memory, sm_90a machine code only): launch parameters and the rule for when it replaces the mma.sync
 * {@code flash_bwd_fused_*} kernel of {@link FlashKernels}. It takes the same {@code FlashParams}, reads the same D
 * rows ({@code flash_bwd_delta_*}) and adds dQ / scale into the same F32 buffer with atomics, which
 * {@code flash_bwd_dq_convert_*} then scales into dq; dK and dV it writes itself.
 *
 * <p>It runs for the calls {@link HopperCoverage} describes, except in {@link AttentionSpec#deterministic()} mode
 * (its dQ atomics add in no fixed order; the deterministic mode keeps the mma.sync dQ and dK/dV passes). Every other
 * call keeps the mma.sync kernels. The system property {@code fulgur.flash.hopperBackward} set to {@code false} turns
 * it off.
 *
 * @param dtypeName  kernel-name part of the element type, {@code bf16} or {@code f16}
 * @param headDim    64 or 128
 * @param warpgroups warpgroups of a block, each owning 64 keys (flash_attention_hopper_backward.cu's instantiations)
 * @param queries    query rows of a query tile
 */
record HopperFlashBackward(String dtypeName, int headDim, int warpgroups, int queries) {
    static final String MODULE = "flash_attention_hopper_backward";

    /** Whether the Hopper backward is enabled ({@code -Dfulgur.flash.hopperBackward=false} turns it off). */
    static boolean enabled() {
        return HopperCoverage.enabled("fulgur.flash.hopperBackward");
    }

    /**
     * The Hopper backward for these inputs on a device of compute capability {@code cc}, or null when the mma.sync
     * backward must run ({@link HopperCoverage}, and the deterministic mode: see the class comment).
     */
    static HopperFlashBackward select(Tensor q, AttentionSpec spec, int cc) {
        if (!enabled() || !HopperCoverage.covers(q, spec, cc) || spec.deterministic()) {
            return null;
        }
        String type = HopperCoverage.dtypeName(q);
        // the tiles of the .cu instantiations (measured on an H200, docs/PERF.md "Hopper backward")
        return q.shape().dim(3) == 64 ? new HopperFlashBackward(type, 64, 2, 128)
                : new HopperFlashBackward(type, 128, 2, 64);
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
        d.allowDynamicSharedMemory(MODULE, name, smem);
        d.launch3(MODULE, name, Math.ceilDiv(keysLength, keys()), kvHeads, batch, 128 * warpgroups, smem, params);
    }
}
