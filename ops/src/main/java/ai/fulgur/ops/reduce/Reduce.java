package ai.fulgur.ops.reduce;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import java.util.Arrays;

/** Reductions: sum, mean, max, min, prod over axes; argmax/argmin; and summing a broadcast gradient back to a shape. */
public final class Reduce {
    private Reduce() {}

    /**
     * Reduces {@code x} over {@code axes} (all axes if empty). With {@code keepDims} the reduced axes stay as size 1.
     * Integer and boolean sums give I64, as in PyTorch; MEAN of an integer tensor is rejected.
     */
    public static Tensor reduce(ReduceOp op, Tensor x, int[] axes, boolean keepDims) {
        String name = op.name().toLowerCase(java.util.Locale.ROOT);
        int[] ax = normaliseAxes(x.shape(), axes);
        if ((op == ReduceOp.MAX || op == ReduceOp.MIN)) {
            for (int a : ax) {
                if (x.shape().dim(a) == 0) {
                    throw new IllegalArgumentException(name + ": axis " + a + " of shape " + x.shape()
                            + " is empty; the " + name + " of no elements is undefined");
                }
            }
        }
        if (op == ReduceOp.MEAN && !x.dtype().isFloating()) {
            throw new IllegalArgumentException("mean: input " + x.shape() + " " + x.dtype()
                    + " is not floating; cast it to F32 first");
        }
        DType outType = (op == ReduceOp.SUM || op == ReduceOp.PROD) && !x.dtype().isFloating() ? DType.I64 : x.dtype();
        Shape kept = keptShape(x.shape(), ax);
        Tensor out = Tensor.empty(kept, outType, x.device());
        Backends.of(x).reduce().reduce(op, out, x, ax);
        return keepDims ? out : out.reshape(dropAxes(x.shape(), ax));
    }

    public static Tensor sum(Tensor x, int[] axes, boolean keepDims) {
        return reduce(ReduceOp.SUM, x, axes, keepDims);
    }

    /** Sum of every element, as a rank-0 tensor. */
    public static Tensor sum(Tensor x) {
        return reduce(ReduceOp.SUM, x, new int[0], false);
    }

    public static Tensor mean(Tensor x, int[] axes, boolean keepDims) {
        return reduce(ReduceOp.MEAN, x, axes, keepDims);
    }

    public static Tensor max(Tensor x, int[] axes, boolean keepDims) {
        return reduce(ReduceOp.MAX, x, axes, keepDims);
    }

    /** Index of the maximum along {@code axis} (I64); the first on ties. */
    public static Tensor argMax(Tensor x, int axis, boolean keepDims) {
        return argReduce(true, x, axis, keepDims);
    }

    /** Index of the minimum along {@code axis} (I64); the first on ties. */
    public static Tensor argMin(Tensor x, int axis, boolean keepDims) {
        return argReduce(false, x, axis, keepDims);
    }

    private static Tensor argReduce(boolean max, Tensor x, int axis, boolean keepDims) {
        int a = x.shape().axis(axis);
        if (x.shape().dim(a) == 0) {
            throw new IllegalArgumentException((max ? "argmax" : "argmin") + ": axis " + axis + " of shape " + x.shape()
                    + " is empty");
        }
        Tensor out = Tensor.empty(x.shape().with(a, 1), DType.I64, x.device());
        Backends.of(x).reduce().argReduce(max, out, x, a);
        return keepDims ? out : out.reshape(x.shape().without(a));
    }

    /**
     * Sums {@code grad} down to {@code shape}: the adjoint of broadcasting {@code shape} up to {@code grad.shape()}
     * (leading axes are summed away, axes where {@code shape} has size 1 are summed with keep-dims).
     */
    public static Tensor sumToShape(Tensor grad, Shape shape) {
        if (grad.shape().equals(shape)) {
            return grad;
        }
        int lead = grad.rank() - shape.rank();
        if (lead < 0) {
            throw new IllegalArgumentException("sumToShape: gradient " + grad.shape() + " has lower rank than " + shape);
        }
        int[] axes = new int[grad.rank()];
        int n = 0;
        for (int i = 0; i < grad.rank(); i++) {
            if (i < lead || (shape.dim(i - lead) == 1 && grad.shape().dim(i) != 1)) {
                axes[n++] = i;
            }
        }
        Tensor summed = n == 0 ? grad : sum(grad, Arrays.copyOf(axes, n), true);
        return summed.reshape(shape);
    }

    /** Sorted, distinct, non-negative axes; all axes when {@code axes} is empty. */
    static int[] normaliseAxes(Shape shape, int[] axes) {
        if (axes.length == 0) {
            int[] all = new int[shape.rank()];
            for (int i = 0; i < all.length; i++) {
                all[i] = i;
            }
            return all;
        }
        int[] out = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            out[i] = shape.axis(axes[i]);
        }
        Arrays.sort(out);
        for (int i = 1; i < out.length; i++) {
            if (out[i] == out[i - 1]) {
                throw new IllegalArgumentException("axis " + out[i] + " is repeated in " + Arrays.toString(axes));
            }
        }
        return out;
    }

    private static Shape keptShape(Shape s, int[] axes) {
        long[] d = s.dims();
        for (int a : axes) {
            d[a] = 1;
        }
        return Shape.of(d);
    }

    private static Shape dropAxes(Shape s, int[] axes) {
        long[] d = new long[s.rank() - axes.length];
        for (int i = 0, j = 0, k = 0; i < s.rank(); i++) {
            if (k < axes.length && axes[k] == i) {
                k++;
            } else {
                d[j++] = s.dim(i);
            }
        }
        return Shape.of(d);
    }
}
