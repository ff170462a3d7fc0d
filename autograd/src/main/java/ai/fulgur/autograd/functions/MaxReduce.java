package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.BinaryOp;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.reduce.Reduce;
import ai.fulgur.ops.reduce.ReduceOp;

/**
 * Max or min over axes. The gradient flows to the elements equal to the result, split evenly between ties (as
 * PyTorch's {@code amax}).
 */
public final class MaxReduce extends Function {
    private final int[] axes;
    private final boolean keepDims;

    private MaxReduce(int[] axes, boolean keepDims) {
        this.axes = axes;
        this.keepDims = keepDims;
    }

    public static Variable apply(Variable x, int[] axes, boolean keepDims, boolean max) {
        Tensor kept = Reduce.reduce(max ? ReduceOp.MAX : ReduceOp.MIN, x.data(), axes, true);
        Tensor out = keepDims ? kept : Reduce.reduce(max ? ReduceOp.MAX : ReduceOp.MIN, x.data(), axes, false);
        MaxReduce fn = new MaxReduce(axes.clone(), keepDims);
        Variable result = fn.record(out, x);
        if (!result.isLeaf()) {
            if (keepDims) {
                fn.saveForBackward(x, result); // kept is the output: version-check it, the caller holds it
            } else {
                fn.saveForBackward(x);
                fn.saveInternals(kept);
            }
        }
        return result;
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor x = saved(0);
        Tensor kept = keepDims ? saved(1) : internal(0);
        Tensor mask = Elementwise.binary(BinaryOp.EQ, x, kept).cast(g.dtype());
        int[] ax = axes.length == 0 ? java.util.stream.IntStream.range(0, x.rank()).toArray() : axes;
        Tensor ties = Reduce.sum(mask, ax, true);
        Tensor gk = g.reshape(kept.shape());
        Tensor dx = Elementwise.mul(mask, Elementwise.div(gk, ties));
        return new Tensor[] {dx.reshape(Shape.of(x.shape().dims()))};
    }
}
