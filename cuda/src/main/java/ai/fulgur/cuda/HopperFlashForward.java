package ai.fulgur.cuda;

import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionSpec;

/**
 * The Hopper FlashAttention forward (flash_attention_hopper.cu: wgmma with operands in 128-byte-swizzled shared
 * memory, sm_90a machine code only): launch parameters and the rule for when it replaces the mma.sync forward of
 * {@link FlashKernels}. It takes the same {@code FlashParams} as {@code flash_fwd_*} and writes the same O and
 * logsumexp, so the mma.sync backward reads them unchanged.
 *
 * <p>It runs for the calls {@link HopperCoverage} describes that {@link HopperTmaForward} (the TMA warp-specialised
 * variant) does not take; every other call keeps the mma.sync kernels. The system property
 * {@code fulgur.flash.hopper} set to {@code false} turns both Hopper forwards off.
 *
 * @param dtypeName  kernel-name part of the element type, {@code bf16} or {@code f16}
 * @param headDim    64 or 128
 * @param warpgroups warpgroups of a block, each owning 64 query rows (flash_attention_hopper.cu's instantiations)
 * @param keys       key rows of a key/value tile
 */
record HopperFlashForward(String dtypeName, int headDim, int warpgroups, int keys) {
    static final String MODULE = "flash_attention_hopper";

    /** Whether the Hopper forward is enabled ({@code -Dfulgur.flash.hopper=false} turns it off). */
    static boolean enabled() {
        return HopperCoverage.enabled("fulgur.flash.hopper");
    }

    /**
     * The Hopper forward for these inputs on a device of compute capability {@code cc}, or null when the mma.sync
     * forward must run ({@link HopperCoverage}).
     */
    static HopperFlashForward select(Tensor q, AttentionSpec spec, int cc) {
        if (!enabled() || !HopperCoverage.covers(q, spec, cc)) {
            return null;
        }
        String type = HopperCoverage.dtypeName(q);
        // the tiles of the .cu instantiations (measured on an H200, docs/PERF.md "Hopper forward")
        return q.shape().dim(3) == 64 ? new HopperFlashForward(type, 64, 1, 64)
                : new HopperFlashForward(type, 128, 2, 128);
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
        d.allowDynamicSharedMemory(MODULE, name, smem);
        d.launch3(MODULE, name, Math.ceilDiv(queries, rows()), heads, batch, 128 * warpgroups, smem, params);
    }
}
