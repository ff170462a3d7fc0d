package ai.fulgur.ops.linalg;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;

/** Kernel SPI: matrix products. */
public interface LinalgKernels {

    /**
     * Batched matrix product {@code out[b] = alpha * op(a[b]) · op(b[b]) + (accumulate ? out[b] : 0)}.
     *
     * <p>Shapes: out (B, M, N); a (B, M, K), or (B, K, M) when {@code transA}; b (B, K, N), or (B, N, K) when
     * {@code transB}. Each matrix is stored by rows ({@link ai.fulgur.ops.RowPitched}): unit stride along its last
     * axis and a row stride (the leading dimension) of at least its row length, padding past each row untouched and
     * unread; its batch stride is rows · row stride, or 0 for a matrix shared by the batch (a batch of 1 in a or b is
     * broadcast over B that way). Contiguous operands are the case row stride = row length. The dtypes are equal and
     * floating; the CPU accumulates F32 in F32 and F64 in F64.
     */
    void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, double alpha, boolean accumulate);

    /**
     * Fused linear layer {@code out = epilogue(x · weightᵀ [+ bias])}: the product accumulates in F32 (F64 for F64),
     * the bias is added and the tanh GELU applied in that type, and the result is rounded once to the output dtype.
     *
     * <p>Shapes: out (M, N); x (M, K); weight (N, K), DJL's and PyTorch's (out features, in features); bias (N), given
     * exactly when {@code epilogue.hasBias()}; preActivation (M, N) or null, only with a GELU epilogue, receives
     * x·Wᵀ + b before the GELU (what the GELU backward needs). One floating dtype; x, weight, bias and preActivation
     * contiguous, out stored by rows (row stride at least N, see {@link #matmul}).
     */
    void linear(Tensor out, Tensor x, Tensor weight, Tensor bias, LinearEpilogue epilogue, Tensor preActivation);

    /**
     * Whether {@link #linear} on {@code dtype} is a single fused pass here, so that callers should prefer it to a
     * matmul followed by elementwise ops. False by default: the CPU kernel is the reference, not a faster path, and the
     * autograd {@code Linear} keeps the separate matmul and add there (their results, rounded twice in BF16/F16, are
     * what existing CPU code has always computed).
     */
    default boolean fusesLinear(DType dtype) {
        return false;
    }

    /**
     * The row stride, in elements, that a new (M, N) output of a product of depth K in {@code dtype} should get: N
     * (contiguous) by default; a larger pitch where this backend runs the product much faster into padded rows (on
     * CUDA, a large product whose rows are not a multiple of 16 bytes). The facade allocates outputs with it and hands
     * them on as row-pitched views ({@link ai.fulgur.ops.RowPitched}).
     */
    default long outputRowPitch(DType dtype, long m, long n, long k) {
        return n;
    }
}
