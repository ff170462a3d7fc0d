package ai.fulgur.cuda;

/**
 * Launch parameters of the FlashAttention kernels for one head dim and architecture: kernel names, tile sizes,
 * threads and dynamic shared memory of the forward, dQ and dK/dV kernels (mma.sync). {@link #select} picks them;
 * the Hopper wgmma kernels that replace some of them on compute capability 9.0 are {@link HopperFlashForward} and
 * {@link HopperFlashBackward}.
 *
 * @param forwardModule  fatbin of the forward kernel
 * @param backwardModule fatbin of the backward kernels
 * @param suffix         dtype-independent part of the kernel names, e.g. {@code d128}
 * @param fwdRows        query rows a forward block owns (16 or 32 per warp)
 * @param fwdKeys        key rows of a forward key/value tile
 * @param fwdThreads     threads of a forward block
 * @param dqRows         query rows a dQ block owns
 * @param dqKeys         key rows of a dQ key/value tile
 * @param dqStages       key/value tiles in the dQ kernel's shared-memory ring
 * @param dqThreads      threads of a dQ block
 * @param kvKeys         key rows a dK/dV block owns
 * @param kvRows         query rows of a dK/dV query tile
 * @param kvStages       query tiles in the dK/dV kernel's shared-memory ring
 * @param kvThreads      threads of a dK/dV block
 * @param headDim        the head dim the kernels are built for
 */
record FlashKernels(String forwardModule, String backwardModule, String suffix, int fwdRows, int fwdKeys,
        int fwdThreads, int dqRows, int dqKeys, int dqStages, int dqThreads, int kvKeys, int kvRows, int kvStages,
        int kvThreads, int headDim) {

    /** Head dims with built kernels. */
    static final int[] HEAD_DIMS = {32, 64, 96, 128};

    /**
     * The kernels for {@code headDim} on a device of compute capability {@code cc} (major·10 + minor): the mma.sync
     * family (sm_80 and later, Hopper included) for head dims 32, 64, 96 and 128. Returns null for other head dims.
     */
    static FlashKernels select(int headDim, int cc) {
        if (cc < 80) {
            return null; // mma.sync bf16 and cp.async need sm_80
        }
        // on sm_90 the dense and causal calls run the wgmma kernels instead, chosen per call by HopperFlashForward and
        // HopperFlashBackward; these mma.sync entries serve every other call there (and the deterministic backward)
        return switch (headDim) {
            // the tile sizes of the instantiations in the .cu files (measured on H100, see docs/PERF.md)
            case 64 -> new FlashKernels("flash_attention_forward", "flash_attention_backward", "d64", 128, 64, 128,
                    64, 32, 3, 128, 64, 64, 3, 128, 64);
            case 128 -> new FlashKernels("flash_attention_forward", "flash_attention_backward", "d128", 128, 64, 256,
                    64, 32, 3, 128, 64, 32, 3, 128, 128);
            // 32 and 96 (models with narrow or 96-wide heads): the d64 and d128 shapes, not tuned separately
            case 32 -> new FlashKernels("flash_attention_forward", "flash_attention_backward", "d32", 64, 64, 128,
                    64, 64, 3, 128, 64, 64, 3, 128, 32);
            case 96 -> new FlashKernels("flash_attention_forward", "flash_attention_backward", "d96", 128, 64, 256,
                    64, 32, 3, 128, 64, 32, 3, 128, 96);
            default -> null;
        };
    }

    private int tileBytes(int rows) {
        return rows * headDim * 2;
    }

    /** Forward: Q tile plus two K and two V tiles. */
    int forwardSharedBytes() {
        return tileBytes(fwdRows) + 4 * tileBytes(fwdKeys);
    }

    /** dQ: Q and dO tiles plus a ring of K and V tiles. */
    int dqSharedBytes() {
        return 2 * tileBytes(dqRows) + 2 * dqStages * tileBytes(dqKeys);
    }

    /** dK/dV with dQ by atomics: the dK/dV kernel's memory plus the dSᵀ tile (rows padded by 8 elements). */
    int fusedSharedBytes() {
        return dkdvSharedBytes() + kvKeys * (kvRows + 8) * 2;
    }

    /** dK/dV: a ring of lse and D rows (F32), the K and V tiles, a ring of Q and dO tiles. */
    int dkdvSharedBytes() {
        return 8 * kvStages * kvRows + 2 * tileBytes(kvKeys) + 2 * kvStages * tileBytes(kvRows);
    }
}
