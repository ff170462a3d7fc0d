package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.reduce.Reduce;
import ai.fulgur.ops.reduce.ReduceOp;

/** Sum or mean over axes (all axes when none are given). Backward broadcasts the gradient back (÷ count for mean). */
public final class Sum extends Function {
    private final int[] axes;
    private final boolean mean;

    private Sum(int[] axes, boolean mean) {
        this.axes = axes;
        this.mean = mean;
    }

    public static Variable apply(Variable x, int[] axes, boolean keepDims, boolean mean) {
        Tensor out = Reduce.reduce(mean ? ReduceOp.MEAN : ReduceOp.SUM, x.data(), axes, keepDims);
        if (!x.dtype().isFloating()) {
            return Variable.constant(out);
        }
        return new Sum(axes.clone(), mean).record(out, x);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Shape in = inputShape(0);
        // put back the reduced axes as size 1, then broadcast
        long[] kept = in.dims();
        int[] ax = axes.length == 0 ? allAxes(in.rank()) : axes;
        long count = 1;
        for (int a : ax) {
            int n = in.axis(a);
            count *= kept[n];
            kept[n] = 1;
        }
        Tensor gk = g.reshape(kept);
        Tensor scaled = mean ? Elementwise.mulScalar(gk, 1.0 / count) : gk;
        return new Tensor[] {scaled.expand(in).contiguous()};
    }

    private static int[] allAxes(int rank) {
        int[] all = new int[rank];
        for (int i = 0; i < rank; i++) {
            all[i] = i;
        }
        return all;
    }
}
