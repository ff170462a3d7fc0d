package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.reduce.Reduce;

/** Broadcast to a larger shape (a stride-0 view). Backward sums the gradient over the repeated axes. */
public final class Expand extends Function {

    public static Variable apply(Variable x, Shape shape) {
        return new Expand().record(x.data().expand(shape), x);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        return new Tensor[] {Reduce.sumToShape(g, inputShape(0))};
    }
}
