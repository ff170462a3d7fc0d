package ai.fulgur.ops.elementwise;

import ai.fulgur.ops.Tensor;

/**
 * Kernel SPI: element-wise maps, strided copies and fills. Inputs may be strided and broadcast (stride-0) views;
 * outputs are contiguous and already have the result shape. On the CPU, inputs of BF16/F16 are read as floats.
 */
public interface ElementwiseKernels {

    /** {@code out[i] = op(x[i], s)}; out has x's shape. */
    void unary(UnaryOp op, double s, Tensor out, Tensor x);

    /** {@code out[i] = op(a[i], b[i])}; a and b are already expanded to out's shape. */
    void binary(BinaryOp op, Tensor out, Tensor a, Tensor b);

    /** {@code out[i] = cond[i] ? a[i] : b[i]}; all three already expanded to out's shape. */
    void where(Tensor out, Tensor cond, Tensor a, Tensor b);

    /** Copies src into dst element by element (same shape), converting dtype; dst may be a strided view. */
    void copy(Tensor dst, Tensor src);

    /** Sets every element of dst (possibly a strided view) to {@code value}. */
    void fill(Tensor dst, double value);
}
