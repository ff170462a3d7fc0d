package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import java.util.function.UnaryOperator;

/**
 * A view that picks each input element at most once: slices (with steps), index selection of one position,
 * squeeze/unsqueeze. Backward writes the gradient into the same view of a zero tensor shaped like the input.
 */
public final class StridedView extends Function {
    private final UnaryOperator<Tensor> view;
    private final String what;

    private StridedView(UnaryOperator<Tensor> view, String what) {
        this.view = view;
        this.what = what;
    }

    /** Applies {@code view} (a function from a tensor to a non-overlapping view of it) differentiably. */
    public static Variable apply(Variable x, UnaryOperator<Tensor> view, String what) {
        return new StridedView(view, what).record(view.apply(x.data()), x);
    }

    /** x[start:end:step] along axis. */
    public static Variable slice(Variable x, int axis, long start, long end, long step) {
        return apply(x, t -> t.slice(axis, start, end, step), "slice");
    }

    /** x[..., index, ...] along axis, dropping the axis. */
    public static Variable select(Variable x, int axis, long index) {
        return apply(x, t -> t.select(axis, index), "select");
    }

    @Override
    public String name() {
        return "StridedView(" + what + ")";
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor dx = Tensor.zeros(inputShape(0), g.dtype(), g.device());
        Elementwise.assign(view.apply(dx), g);
        return new Tensor[] {dx};
    }
}
