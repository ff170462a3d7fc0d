package ai.fulgur.ops;

import java.util.Arrays;

/**
 * An immutable list of dimension sizes, outermost first. A shape of rank 0 is a scalar with one element.
 */
public final class Shape {
    private final long[] dims;

    private Shape(long[] dims) {
        this.dims = dims;
    }

    /** A shape with the given sizes; each must be {@code >= 0}. */
    public static Shape of(long... dims) {
        long[] copy = dims.clone();
        for (int i = 0; i < copy.length; i++) {
            if (copy[i] < 0) {
                throw new IllegalArgumentException("dimension " + i + " of shape " + Arrays.toString(dims) + " is negative");
            }
        }
        return new Shape(copy);
    }

    /** A shape from int sizes. */
    public static Shape of(int... dims) {
        return of(Arrays.stream(dims).asLongStream().toArray());
    }

    /** The rank-0 shape. */
    public static Shape scalar() {
        return new Shape(new long[0]);
    }

    public int rank() {
        return dims.length;
    }

    /** Size of dimension {@code axis}; negative axes count from the end. */
    public long dim(int axis) {
        return dims[axis(axis)];
    }

    /** The sizes as a fresh array. */
    public long[] dims() {
        return dims.clone();
    }

    /** The sizes as ints, failing if one does not fit. */
    public int[] intDims() {
        int[] out = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
            out[i] = Math.toIntExact(dims[i]);
        }
        return out;
    }

    /** Number of elements: the product of the sizes (1 for a scalar). */
    public long numel() {
        long n = 1;
        for (long d : dims) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** The last dimension's size (1 for a scalar). */
    public long last() {
        return dims.length == 0 ? 1 : dims[dims.length - 1];
    }

    /** Product of every size but the last: the number of rows when the last axis is a row. */
    public long rows() {
        long n = 1;
        for (int i = 0; i < dims.length - 1; i++) {
            n = Math.multiplyExact(n, dims[i]);
        }
        return n;
    }

    /** Normalises a possibly negative axis, failing with the valid range if it is out of bounds. */
    public int axis(int axis) {
        int r = dims.length;
        if (axis < -r || axis >= r) {
            throw new IllegalArgumentException("axis " + axis + " is out of range for shape " + this + " (rank " + r
                    + ", valid axes " + (-r) + ".." + (r - 1) + ")");
        }
        return axis < 0 ? axis + r : axis;
    }

    /** Row-major (C-order) strides of a contiguous tensor of this shape, in elements. */
    public long[] contiguousStrides() {
        long[] strides = new long[dims.length];
        long s = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            strides[i] = s;
            s *= Math.max(1, dims[i]);
        }
        return strides;
    }

    /** This shape with dimension {@code axis} replaced by {@code size}. */
    public Shape with(int axis, long size) {
        long[] d = dims.clone();
        d[axis(axis)] = size;
        return of(d);
    }

    /** This shape without dimension {@code axis}. */
    public Shape without(int axis) {
        int a = axis(axis);
        long[] d = new long[dims.length - 1];
        for (int i = 0, j = 0; i < dims.length; i++) {
            if (i != a) {
                d[j++] = dims[i];
            }
        }
        return new Shape(d);
    }

    /** Dimensions {@code [from, to)} as a shape. */
    public Shape slice(int from, int to) {
        return new Shape(Arrays.copyOfRange(dims, from, to));
    }

    /** This shape followed by {@code more}. */
    public Shape concat(long... more) {
        long[] d = Arrays.copyOf(dims, dims.length + more.length);
        System.arraycopy(more, 0, d, dims.length, more.length);
        return of(d);
    }

    /**
     * The shape two operands broadcast to, NumPy style: align from the right; sizes must match or one must be 1.
     *
     * @param op the op's name, for the error message
     */
    public static Shape broadcast(String op, Shape a, Shape b) {
        int rank = Math.max(a.rank(), b.rank());
        long[] out = new long[rank];
        for (int i = 0; i < rank; i++) {
            long da = i < rank - a.rank() ? 1 : a.dims[i - (rank - a.rank())];
            long db = i < rank - b.rank() ? 1 : b.dims[i - (rank - b.rank())];
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException(op + ": shapes " + a + " and " + b + " cannot be broadcast (dimension "
                        + i + " from the left of the result: " + da + " vs " + db + ")");
            }
            out[i] = da == 1 ? db : da;
        }
        return new Shape(out);
    }

    /**
     * Resolves a reshape target that may contain one {@code -1}, failing if the element count differs.
     */
    public Shape reshapeTarget(long... target) {
        long known = 1;
        int infer = -1;
        for (int i = 0; i < target.length; i++) {
            if (target[i] == -1) {
                if (infer >= 0) {
                    throw new IllegalArgumentException("reshape " + this + " to " + Arrays.toString(target)
                            + ": at most one dimension may be -1");
                }
                infer = i;
            } else if (target[i] < 0) {
                throw new IllegalArgumentException("reshape " + this + " to " + Arrays.toString(target)
                        + ": dimension " + i + " is negative");
            } else {
                known *= target[i];
            }
        }
        long[] out = target.clone();
        long n = numel();
        if (infer >= 0) {
            if (known == 0 || n % known != 0) {
                throw new IllegalArgumentException("reshape " + this + " (" + n + " elements) to "
                        + Arrays.toString(target) + ": cannot infer the -1 dimension");
            }
            out[infer] = n / known;
        } else if (known != n) {
            throw new IllegalArgumentException("reshape " + this + " (" + n + " elements) to " + Arrays.toString(target)
                    + " (" + known + " elements): element counts differ");
        }
        return new Shape(out);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < dims.length; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(dims[i]);
        }
        return sb.append(')').toString();
    }
}
