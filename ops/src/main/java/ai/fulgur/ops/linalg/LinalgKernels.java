package ai.fulgur.ops.linalg;

import ai.fulgur.ops.Tensor;

/** Kernel SPI: matrix products. */
public interface LinalgKernels {

    /**
     * Batched matrix product {@code out[b] = alpha * op(a[b]) · op(b[b]) + (accumulate ? out[b] : 0)}.
     *
     * <p>Shapes: out (B, M, N); a (B, M, K), or (B, K, M) when {@code transA}; b (B, K, N), or (B, N, K) when
     * {@code transB}. All three are contiguous; a batch of 1 in a or b is broadcast over B when its batch stride is 0.
     * The dtypes are equal and floating; the CPU accumulates F32 in F32 and F64 in F64.
     */
    void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, double alpha, boolean accumulate);
}
