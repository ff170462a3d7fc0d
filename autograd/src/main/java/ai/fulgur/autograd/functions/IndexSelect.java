package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.indexing.Indexing;

/**
 * Slices of x along an axis at integer indices (numpy's {@code take} along an axis; DJL's {@code get} with an index
 * array). Backward adds each gradient slice back at its index.
 */
public final class IndexSelect extends Function {
    private final int axis;
    private final Tensor index;

    private IndexSelect(int axis, Tensor index) {
        this.axis = axis;
        this.index = index;
    }

    public static Variable apply(Variable x, int axis, Tensor index) {
        int a = x.shape().axis(axis);
        Tensor out = Indexing.indexSelect(x.data(), a, index);
        return new IndexSelect(a, index).record(out, x);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor dx = Tensor.zeros(inputShape(0), g.dtype(), g.device());
        Indexing.indexAddInto(dx, axis, index, g);
        return new Tensor[] {dx};
    }
}
