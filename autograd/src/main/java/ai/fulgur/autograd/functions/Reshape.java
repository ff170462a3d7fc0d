package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;

/** The same elements in a new shape. Backward reshapes the gradient back. */
public final class Reshape extends Function {

    public static Variable apply(Variable x, Shape shape) {
        return new Reshape().record(x.data().reshape(shape), x);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        return new Tensor[] {g.reshape(inputShape(0))};
    }
}
