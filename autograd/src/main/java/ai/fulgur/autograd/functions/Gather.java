package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.indexing.Indexing;

/**
 * torch.gather: out[..., j, ...] = x[..., index[..., j, ...], ...] along an axis (DJL's pick). Backward scatter-adds
 * the gradient to the picked positions.
 */
public final class Gather extends Function {
    private final int axis;
    private final Tensor index;

    private Gather(int axis, Tensor index) {
        this.axis = axis;
        this.index = index;
    }

    public static Variable apply(Variable x, int axis, Tensor index) {
        int a = x.shape().axis(axis);
        Tensor out = Indexing.gather(x.data(), a, index);
        return new Gather(a, index).record(out, x);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        return new Tensor[] {Indexing.scatterAdd(inputShape(0), axis, index, g)};
    }
}
