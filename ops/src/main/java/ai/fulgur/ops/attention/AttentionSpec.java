package ai.fulgur.ops.attention;

import ai.fulgur.ops.Tensor;

/**
 * The options of one attention call, shared by the forward and backward passes and by every backend.
 *
 * <p>Masking, for query i and key j of one sequence with nq queries and nk keys (FlashAttention-2's conventions):
 * <ul>
 *   <li>causal: j ≤ i + (nk − nq), the diagonal aligned bottom-right, so when nq &lt; nk the last query sees every
 *       key (decoding with a cache), and when nq &gt; nk the first nq − nk queries see nothing;</li>
 *   <li>sliding window (left, right): i + (nk − nq) − left ≤ j ≤ i + (nk − nq) + right; −1 means unbounded; causal
 *       is the same as right = 0;</li>
 *   <li>key padding (a padded batch): {@code keyLengths[b]} valid keys per sequence, keys at or beyond it are masked;
 *       the causal alignment still uses the padded nk;</li>
 *   <li>variable-length packed batches: {@code cuSeqlensQ}/{@code cuSeqlensK} (B + 1 cumulative offsets into the
 *       packed row axis); nq and nk are each sequence's own lengths;</li>
 *   <li>block-sparse: only the tiles set in {@code layout} are visited.</li>
 * </ul>
 * A query row with no visible key outputs zeros and has logsumexp +∞ (its gradient is zero), as FlashAttention.
 *
 * <p>Dropout keeps P[s, h, i, j] of sequence s when Philox.uniform(seed, stream = s·Hq + h, n = offset + i·nk + j) ≥
 * dropoutP, and scales kept entries by 1/(1 − dropoutP); the backward pass regenerates the same mask.
 *
 * @param softmaxScale multiplies QKᵀ before the softmax; usually 1/√headDim
 * @param causal       bottom-right aligned causal mask
 * @param windowLeft   keys allowed to the left of the diagonal, or −1 for unbounded
 * @param windowRight  keys allowed to the right of the diagonal, or −1 for unbounded (0 when causal)
 * @param dropoutP     attention dropout probability in [0, 1)
 * @param seed         dropout seed
 * @param offset       dropout stream offset (advance it between calls)
 * @param keyLengths   I32 or I64 (B) valid keys per sequence of a padded batch, or null
 * @param cuSeqlensQ   I32 or I64 (B + 1) cumulative query offsets of a packed batch, or null
 * @param cuSeqlensK   I32 or I64 (B + 1) cumulative key offsets of a packed batch, or null
 * @param layout       block-sparse layout, or null for dense attention
 * @param deterministic the backward pass must give the same bits on every run: no floating-point atomics (a backend
 *                      whose fast path accumulates dQ with atomics, as CUDA's does, takes a slower path); the CPU
 *                      kernel is deterministic either way
 */
public record AttentionSpec(double softmaxScale, boolean causal, int windowLeft, int windowRight, double dropoutP,
        long seed, long offset, Tensor keyLengths, Tensor cuSeqlensQ, Tensor cuSeqlensK, BlockSparseLayout layout,
        boolean deterministic) {

    public AttentionSpec {
        if (!(softmaxScale > 0) || Double.isInfinite(softmaxScale)) {
            throw new IllegalArgumentException("softmaxScale must be positive and finite, got " + softmaxScale);
        }
        if (!(dropoutP >= 0 && dropoutP < 1)) {
            throw new IllegalArgumentException("attention dropout must be in [0, 1), got " + dropoutP);
        }
        if (windowLeft < -1 || windowRight < -1) {
            throw new IllegalArgumentException("window sizes must be >= 0 or -1 (unbounded), got (" + windowLeft + ", "
                    + windowRight + ")");
        }
        if ((cuSeqlensQ == null) != (cuSeqlensK == null)) {
            throw new IllegalArgumentException("a packed batch needs both cuSeqlensQ and cuSeqlensK");
        }
        if (cuSeqlensQ != null && keyLengths != null) {
            throw new IllegalArgumentException("give keyLengths (padded batch) or cuSeqlens (packed batch), not both");
        }
        if (causal) {
            windowRight = 0; // causal is the window (left, 0)
        }
    }

    /** The options without the deterministic flag (off: backends may accumulate gradients with atomics). */
    public AttentionSpec(double softmaxScale, boolean causal, int windowLeft, int windowRight, double dropoutP,
            long seed, long offset, Tensor keyLengths, Tensor cuSeqlensQ, Tensor cuSeqlensK, BlockSparseLayout layout) {
        this(softmaxScale, causal, windowLeft, windowRight, dropoutP, seed, offset, keyLengths, cuSeqlensQ, cuSeqlensK,
                layout, false);
    }

    /** Plain dense attention with scale 1/√headDim. */
    public static AttentionSpec dense(long headDim) {
        return new AttentionSpec(1 / Math.sqrt(headDim), false, -1, -1, 0, 0, 0, null, null, null, null);
    }

    /** Dense causal attention with scale 1/√headDim. */
    public static AttentionSpec causal(long headDim) {
        return new AttentionSpec(1 / Math.sqrt(headDim), true, -1, 0, 0, 0, 0, null, null, null, null);
    }

    /** The same options with causal masking on or off (turning it off keeps any right window that was set). */
    public AttentionSpec withCausal(boolean c) {
        return new AttentionSpec(softmaxScale, c, windowLeft, c ? 0 : (causal ? -1 : windowRight), dropoutP, seed,
                offset, keyLengths, cuSeqlensQ, cuSeqlensK, layout, deterministic);
    }

    public AttentionSpec withWindow(int left, int right) {
        return new AttentionSpec(softmaxScale, causal, left, right, dropoutP, seed, offset, keyLengths, cuSeqlensQ,
                cuSeqlensK, layout, deterministic);
    }

    public AttentionSpec withDropout(double p, long seed, long offset) {
        return new AttentionSpec(softmaxScale, causal, windowLeft, windowRight, p, seed, offset, keyLengths,
                cuSeqlensQ, cuSeqlensK, layout, deterministic);
    }

    public AttentionSpec withKeyLengths(Tensor lengths) {
        return new AttentionSpec(softmaxScale, causal, windowLeft, windowRight, dropoutP, seed, offset, lengths,
                cuSeqlensQ, cuSeqlensK, layout, deterministic);
    }

    public AttentionSpec withPacked(Tensor cuQ, Tensor cuK) {
        return new AttentionSpec(softmaxScale, causal, windowLeft, windowRight, dropoutP, seed, offset, keyLengths,
                cuQ, cuK, layout, deterministic);
    }

    public AttentionSpec withLayout(BlockSparseLayout l) {
        return new AttentionSpec(softmaxScale, causal, windowLeft, windowRight, dropoutP, seed, offset, keyLengths,
                cuSeqlensQ, cuSeqlensK, l, deterministic);
    }

    public AttentionSpec withScale(double s) {
        return new AttentionSpec(s, causal, windowLeft, windowRight, dropoutP, seed, offset, keyLengths, cuSeqlensQ,
                cuSeqlensK, layout, deterministic);
    }

    /** The same options with the deterministic-backward requirement on or off. */
    public AttentionSpec withDeterministic(boolean d) {
        return new AttentionSpec(softmaxScale, causal, windowLeft, windowRight, dropoutP, seed, offset, keyLengths,
                cuSeqlensQ, cuSeqlensK, layout, d);
    }

    /** True if this call packs variable-length sequences along the row axis. */
    public boolean isPacked() {
        return cuSeqlensQ != null;
    }

    /** Whether key j is visible from query i in a sequence whose alignment lengths are (nq, nk). */
    public boolean visible(long i, long j, long nq, long nk) {
        long diag = i + nk - nq;
        if (windowLeft >= 0 && j < diag - windowLeft) {
            return false;
        }
        return windowRight < 0 || j <= diag + windowRight;
    }
}
