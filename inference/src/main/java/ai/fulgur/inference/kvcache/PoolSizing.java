package ai.fulgur.inference.kvcache;

import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * How many KV blocks fit in memory. One block holds, for each of {@code layers} layers, a key and a value vector of
 * {@code kvHeads × headDim} numbers for each of its {@code blockSize} tokens:
 * <pre>
 *   bytes per block = 2 · layers · kvHeads · headDim · blockSize · bytes per number
 *   blocks          = ⌊ free bytes · utilisation ÷ bytes per block ⌋
 * </pre>
 * GPT-2 124M in fp16 with 16-token blocks: 2 · 12 · 12 · 64 · 16 · 2 = 589,824 bytes (576 KiB) a block, so 70 GiB
 * free at utilisation 0.9 gives 114,688 blocks (1,835,008 tokens).
 */
public final class PoolSizing {
    private PoolSizing() {
    }

    /** Bytes of one block, as above. */
    public static long bytesPerBlock(int layers, int kvHeads, int headDim, int blockSize, int dtypeBytes) {
        if (layers < 1 || kvHeads < 1 || headDim < 1 || blockSize < 1 || dtypeBytes < 1) {
            throw new IllegalArgumentException("block sizes must be positive, got layers " + layers + ", kvHeads "
                    + kvHeads + ", headDim " + headDim + ", blockSize " + blockSize + ", dtypeBytes " + dtypeBytes);
        }
        return 2L * layers * kvHeads * headDim * blockSize * dtypeBytes;
    }

    /**
     * Blocks that fit in {@code freeBytes × utilisation}.
     *
     * @param freeBytes   memory free for the cache (after the model's weights and activations), ≥ 0
     * @param utilisation the fraction of it to use, in (0, 1]
     */
    public static int numBlocks(long freeBytes, double utilisation, int layers, int kvHeads, int headDim,
            int blockSize, int dtypeBytes) {
        if (freeBytes < 0) {
            throw new IllegalArgumentException("freeBytes must be >= 0, got " + freeBytes);
        }
        if (!(utilisation > 0 && utilisation <= 1)) {
            throw new IllegalArgumentException("utilisation must be in (0, 1], got " + utilisation);
        }
        long perBlock = bytesPerBlock(layers, kvHeads, headDim, blockSize, dtypeBytes);
        long usable = usableBytes(freeBytes, utilisation);
        long blocks = usable / perBlock;
        if (blocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(blocks + " blocks do not fit an int; lower utilisation or blockSize");
        }
        return (int) blocks;
    }

    /** ⌊free · utilisation⌋ in decimal arithmetic: 0.9 · 70 GiB is exactly 63 GiB, not a byte under in double. */
    static long usableBytes(long freeBytes, double utilisation) {
        return BigDecimal.valueOf(freeBytes).multiply(BigDecimal.valueOf(utilisation))
                .setScale(0, RoundingMode.FLOOR).longValueExact();
    }
}
