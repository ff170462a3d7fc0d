package ai.fulgur.ops.cpu;

import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;

/**
 * Walks several same-shaped strided tensors row by row (a row = the last axis), giving each operand's storage index
 * of the row start and its stride along the row. Element-wise kernels loop over rows in parallel and over the row
 * inline, so broadcasting (stride 0) and transposed views cost no copies.
 */
final class StridedRows {
    private final long[] outer;      // sizes of every axis but the last
    private final long[][] strides;  // per operand, per axis
    private final long[] offsets;    // per operand
    private final int rowLength;
    private final int rows;

    StridedRows(Shape shape, Tensor... operands) {
        int rank = shape.rank();
        this.outer = rank == 0 ? new long[0] : shape.slice(0, rank - 1).dims();
        this.rowLength = Math.toIntExact(shape.last());
        this.rows = Math.toIntExact(rank == 0 ? 1 : shape.rows());
        this.strides = new long[operands.length][];
        this.offsets = new long[operands.length];
        for (int i = 0; i < operands.length; i++) {
            strides[i] = operands[i].strides();
            offsets[i] = operands[i].offset();
        }
    }

    int rows() {
        return rows;
    }

    int rowLength() {
        return rowLength;
    }

    /** Stride of operand {@code k} along the row (0 for a scalar). */
    int innerStride(int k) {
        long[] s = strides[k];
        return s.length == 0 ? 0 : Math.toIntExact(s[s.length - 1]);
    }

    /** Writes the storage index where row {@code row} starts into {@code base[k]} for each operand k. */
    void rowStart(int row, int[] base) {
        for (int k = 0; k < base.length; k++) {
            base[k] = (int) offsets[k];
        }
        long r = row;
        for (int axis = outer.length - 1; axis >= 0; axis--) {
            long i = r % outer[axis];
            r /= outer[axis];
            for (int k = 0; k < base.length; k++) {
                base[k] += (int) (i * strides[k][axis]);
            }
        }
    }
}
