package ai.fulgur.ops.reduce;

import ai.fulgur.ops.Tensor;

/** Kernel SPI: reductions. */
public interface ReduceKernels {

    /**
     * Reduces {@code x} over {@code axes} (sorted, distinct, non-negative). {@code out} has x's shape with those axes
     * set to 1 (keep-dims form). Floating sums accumulate in double on the CPU. MEAN of an empty axis is NaN; MAX and
     * MIN of an empty axis are rejected by the facade.
     */
    void reduce(ReduceOp op, Tensor out, Tensor x, int[] axes);

    /**
     * Index of the largest ({@code max} true) or smallest element along {@code axis}; the first one on ties, as
     * PyTorch. {@code out} is I64 with x's shape and that axis set to 1.
     */
    void argReduce(boolean max, Tensor out, Tensor x, int axis);
}
