package ai.fulgur.ops.kvcache;

/**
 * Host-side facts about one {@link PagedKvKernels#pagedAttention} call that a kernel needs to pick its launch
 * without reading the device index tensors back.
 *
 * @param scale            multiplies q·k before the softmax (usually 1/√D)
 * @param maxQueryLength   the largest nq_s in the batch (1 for pure decode)
 * @param maxContextLength the largest contextLens[s] in the batch
 */
public record PagedAttentionSpec(double scale, int maxQueryLength, int maxContextLength) {

    /** Checks every value and names the bad one. */
    public PagedAttentionSpec {
        if (!(scale > 0) || !Double.isFinite(scale)) {
            throw new IllegalArgumentException("scale must be a finite number > 0, got " + scale);
        }
        if (maxQueryLength < 1) {
            throw new IllegalArgumentException("maxQueryLength must be >= 1, got " + maxQueryLength);
        }
        if (maxContextLength < maxQueryLength) {
            throw new IllegalArgumentException("maxContextLength (" + maxContextLength
                    + ") must be >= maxQueryLength (" + maxQueryLength + ")");
        }
    }
}
