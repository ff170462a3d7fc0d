package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;

/** Axis permutation (transpose is the two-axis case). Backward applies the inverse permutation. */
public final class Transpose extends Function {
    private final int[] order;

    private Transpose(int[] order) {
        this.order = order;
    }

    public static Variable permute(Variable x, int... order) {
        Tensor out = x.data().permute(order);
        int[] normalised = new int[order.length];
        for (int i = 0; i < order.length; i++) {
            normalised[i] = x.shape().axis(order[i]);
        }
        return new Transpose(normalised).record(out, x);
    }

    public static Variable apply(Variable x, int axis0, int axis1) {
        int[] order = new int[x.shape().rank()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        int a = x.shape().axis(axis0);
        int b = x.shape().axis(axis1);
        order[a] = b;
        order[b] = a;
        return permute(x, order);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        int[] inverse = new int[order.length];
        for (int i = 0; i < order.length; i++) {
            inverse[order[i]] = i;
        }
        return new Tensor[] {g.permute(inverse)};
    }
}
