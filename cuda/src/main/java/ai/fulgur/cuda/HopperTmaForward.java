package ai.fulgur.cuda;

import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionSpec;

/**
 * The warp-specialised Hopper FlashAttention forward (flash_attention_hopper_tma.cu: a producer warpgroup copying Q,
 * K and V tiles with TMA bulk tensor copies into an mbarrier-paced ring of shared-memory stages, two consumer
 * warpgroups of 64 query rows taking turns on wgmma): launch parameters and the rule for when it replaces
 * {@link HopperFlashForward}. It takes the same {@code FlashParams} plus one {@link TensorMap} per input and writes
 * the same O and logsumexp, so the backward reads them unchanged.
 *
 * <p>It covers the calls {@link HopperCoverage} describes whose Q, K and V a tensor map can address
 * ({@link TensorMapLayout#problem}: 16-byte-aligned first elements, strides multiples of 16 bytes); every other call
 * keeps {@link HopperFlashForward} (or the mma.sync kernels). The system property {@code fulgur.flash.tma}
 * ({@code true} or {@code false}) forces the choice; unset, {@link #onByDefault} decides from the head dim, the
 * query length and the causal mask (docs/PERF.md, "Hopper forward with TMA"). {@code fulgur.flash.hopper=false}
 * turns it off with the other Hopper forward.
 *
 * @param dtypeName kernel-name part of the element type, {@code bf16} or {@code f16}
 * @param headDim   64 or 128
 * @param keys      key rows of a K/V tile
 * @param stages    K/V stages of the shared-memory ring
 */
record HopperTmaForward(String dtypeName, int headDim, int keys, int stages) {
    static final String MODULE = "flash_attention_hopper_tma";
    /** Query rows of a block: two consumer warpgroups of 64. */
    static final int ROWS = 128;
    /** A producer warpgroup and two consumer warpgroups. */
    static final int THREADS = 384;
    /**
     * Whether the kernel runs when {@code fulgur.flash.tma} is unset: where it measured faster than the cp.async
     * Hopper forward on the benchmark shapes (H200, docs/PERF.md "Hopper forward with TMA"): at head dim 128 always
     * (1.20–1.34×, n = 512 … 16384); at head dim 64 from 1024 queries without a causal mask (1.14–1.25×) and from 4096
     * with one (1.11–1.25×). Below that the 128-row blocks, one an SM, leave too little work to hide the pipeline's
     * fill (0.68× at n = 512 causal), and the cp.async kernel's 64-row blocks, three an SM, stay ahead.
     */
    static boolean onByDefault(int headDim, long queries, boolean causal) {
        return headDim == 128 || queries >= (causal ? 4096 : 1024);
    }

    /**
     * The setting of {@code fulgur.flash.tma}: TRUE or FALSE, or null when unset (then {@link #onByDefault} decides).
     */
    static Boolean setting() {
        String setting = System.getProperty("fulgur.flash.tma");
        if (setting == null || setting.isEmpty()) {
            return null;
        }
        if (setting.equalsIgnoreCase("true") || setting.equalsIgnoreCase("false")) {
            return Boolean.valueOf(setting);
        }
        throw new IllegalArgumentException("fulgur.flash.tma must be true or false, got '" + setting + "'");
    }

    /**
     * The TMA forward for these options on a device of compute capability {@code cc}, or null when another forward
     * must run. The inputs' tensor maps are checked apart ({@link #describes}), since they need device addresses.
     */
    static HopperTmaForward select(Tensor q, AttentionSpec spec, int cc) {
        Boolean setting = setting();
        if (Boolean.FALSE.equals(setting) || !HopperFlashForward.enabled() || !HopperCoverage.covers(q, spec, cc)) {
            return null;
        }
        int headDim = (int) q.shape().dim(3);
        if (setting == null && !onByDefault(headDim, q.shape().dim(1), spec.causal())) {
            return null;
        }
        String type = HopperCoverage.dtypeName(q);
        // the tiles of the .cu instantiations: 128-key tiles, three stages at d64 and two at d128 (shared memory)
        return headDim == 64 ? new HopperTmaForward(type, 64, 128, 3) : new HopperTmaForward(type, 128, 128, 2);
    }

    /**
     * Whether tensor maps can describe q, k and v with their first elements at these addresses (the boxes: 128 query
     * rows of q, {@link #keys} rows of k and v); false sends the call to {@link HopperFlashForward}.
     */
    boolean describes(Tensor q, long qAddress, Tensor k, long kAddress, Tensor v, long vAddress) {
        return TensorMapLayout.of(q, qAddress, ROWS).problem() == null
                && TensorMapLayout.of(k, kAddress, keys).problem() == null
                && TensorMapLayout.of(v, vAddress, keys).problem() == null;
    }

    /** {@link #describes} for device tensors, and the driver can encode maps. */
    boolean describes(Tensor q, Tensor k, Tensor v) {
        return TensorMap.available()
                && describes(q, CudaTensors.first(q), k, CudaTensors.first(k), v, CudaTensors.first(v));
    }

    String kernelName() {
        return "flash_fwd_hopper_tma_" + dtypeName + "_d" + headDim;
    }

    /** The Q tile, the K and V tiles of every stage, 1024 bytes to align the swizzled tiles, and the mbarriers. */
    int sharedBytes() {
        return (ROWS + 2 * stages * keys) * headDim * 2 + 1024 + 8 * (1 + 4 * stages);
    }

    /**
     * Encodes the three tensor maps and launches the kernel on {@code d}'s stream: one block per (128 query rows,
     * query head, batch entry).
     *
     * @param params the FlashParams fields as CudaAttention builds them (for q, k, v, o and lse)
     */
    void launch(CudaDevice d, long[] params, Tensor q, Tensor k, Tensor v, long queries, long heads, long batch) {
        TensorMap mq = TensorMap.encode(TensorMapLayout.heads(q, ROWS));
        TensorMap mk = TensorMap.encode(TensorMapLayout.heads(k, keys));
        TensorMap mv = TensorMap.encode(TensorMapLayout.heads(v, keys));
        String name = kernelName();
        int smem = sharedBytes();
        d.allowDynamicSharedMemory(MODULE, name, smem);
        d.launch3(MODULE, name, Math.ceilDiv(queries, ROWS), heads, batch, THREADS, smem, params, mq, mk, mv);
    }
}
