package ai.fulgur.ops.activation;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Checks;
import ai.fulgur.ops.Tensor;

/** Softmax, log-softmax and GELU, forward and backward, over the backend's {@link ActivationKernels}. */
public final class Activation {
    private Activation() {}

    /** softmax (or log-softmax when {@code log}) of x along {@code axis}. */
    public static Tensor softmaxForward(Tensor x, int axis, boolean log) {
        String op = log ? "logSoftmax" : "softmax";
        Checks.floating(op, "x", x);
        int a = x.rank() == 0 ? 0 : x.shape().axis(axis);
        Tensor rows = toRows(x, a);
        Tensor y = Tensor.empty(rows.shape(), x.dtype(), x.device());
        Backends.of(x).activation().softmaxForward(y, rows, log);
        return fromRows(y, x, a);
    }

    /** The gradient of {@link #softmaxForward} with respect to x, given its output y and the output gradient dy. */
    public static Tensor softmaxBackward(Tensor y, Tensor dy, int axis, boolean log) {
        String op = log ? "logSoftmaxBackward" : "softmaxBackward";
        Checks.sameShape(op, "y", y, "dy", dy);
        Checks.sameDtype(op, "y", y, "dy", dy);
        int a = y.rank() == 0 ? 0 : y.shape().axis(axis);
        Tensor yr = toRows(y, a);
        Tensor dyr = toRows(dy, a);
        Tensor dx = Tensor.empty(yr.shape(), y.dtype(), y.device());
        Backends.of(y).activation().softmaxBackward(dx, yr, dyr, log);
        return fromRows(dx, y, a);
    }

    /** gelu(x) in the given form. */
    public static Tensor geluForward(Tensor x, GeluForm form) {
        Checks.floating("gelu", "x", x);
        Tensor xc = x.contiguous();
        Tensor y = Tensor.empty(x.shape(), x.dtype(), x.device());
        Backends.of(x).activation().geluForward(y, xc, form);
        return y;
    }

    /** dy · gelu'(x). */
    public static Tensor geluBackward(Tensor x, Tensor dy, GeluForm form) {
        Checks.sameShape("geluBackward", "x", x, "dy", dy);
        Checks.sameDtype("geluBackward", "x", x, "dy", dy);
        Tensor dx = Tensor.empty(x.shape(), x.dtype(), x.device());
        Backends.of(x).activation().geluBackward(dx, x.contiguous(), dy.contiguous(), form);
        return dx;
    }

    /** x as contiguous rows (R, C) with {@code axis} last. */
    static Tensor toRows(Tensor x, int axis) {
        if (x.rank() == 0) {
            return x.reshape(1, 1);
        }
        Tensor moved = axis == x.rank() - 1 ? x : x.transpose(axis, x.rank() - 1);
        Tensor c = moved.contiguous();
        return c.reshape(-1, c.shape().last());
    }

    /** Undoes {@link #toRows}: rows back to {@code like}'s shape with the axis in place. */
    static Tensor fromRows(Tensor rows, Tensor like, int axis) {
        if (like.rank() == 0) {
            return rows.reshape(like.shape());
        }
        if (axis == like.rank() - 1) {
            return rows.reshape(like.shape());
        }
        long[] moved = like.shape().dims();
        long tmp = moved[axis];
        moved[axis] = moved[like.rank() - 1];
        moved[like.rank() - 1] = tmp;
        return rows.reshape(moved).transpose(axis, like.rank() - 1).contiguous();
    }
}
