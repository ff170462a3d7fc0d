package ai.fulgur.cuda;

import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;

/**
 * The host side of the kernels' {@code StridedLayout} struct (fulgur.cuh): one shape and, for up to four operands,
 * strides and offsets in elements, packed as a {@code long[]} that is passed to a kernel by value.
 *
 * <p>Operands that are all contiguous collapse to rank 1, which keeps the kernels' index arithmetic minimal.
 */
final class StridedLayout {
    static final int MAX_RANK = 8;
    static final int MAX_OPERANDS = 4;
    private static final int WORDS = 2 + MAX_RANK + MAX_OPERANDS * MAX_RANK + MAX_OPERANDS;

    private StridedLayout() {}

    /** The struct for operands that all have {@code shape} (inputs already expanded by the facade). */
    static long[] of(Shape shape, Tensor... operands) {
        if (operands.length > MAX_OPERANDS) {
            throw new IllegalArgumentException("at most " + MAX_OPERANDS + " operands, got " + operands.length);
        }
        long[] w = new long[WORDS];
        long numel = shape.numel();
        boolean contiguous = true;
        for (Tensor t : operands) {
            contiguous &= t.isContiguous();
        }
        if (contiguous || shape.rank() == 0) {
            w[0] = 1;
            w[1] = numel;
            w[2] = Math.max(numel, 1);
            for (int k = 0; k < operands.length; k++) {
                w[2 + MAX_RANK + k * MAX_RANK] = 1;
                w[2 + MAX_RANK + MAX_OPERANDS * MAX_RANK + k] = operands[k].offset();
            }
            return w;
        }
        int rank = shape.rank();
        if (rank > MAX_RANK) {
            throw new IllegalArgumentException("CUDA element-wise kernels take rank <= " + MAX_RANK + ", got shape "
                    + shape + "; make the operands contiguous first");
        }
        w[0] = rank;
        w[1] = numel;
        for (int d = 0; d < rank; d++) {
            w[2 + d] = shape.dim(d);
        }
        for (int k = 0; k < operands.length; k++) {
            long[] strides = operands[k].strides();
            for (int d = 0; d < rank; d++) {
                w[2 + MAX_RANK + k * MAX_RANK + d] = strides[d];
            }
            w[2 + MAX_RANK + MAX_OPERANDS * MAX_RANK + k] = operands[k].offset();
        }
        return w;
    }
}
