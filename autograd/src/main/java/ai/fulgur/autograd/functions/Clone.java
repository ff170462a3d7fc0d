package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;

/** A copy with its own storage that stays on the graph (PyTorch's {@code clone}). Backward passes the gradient on. */
public final class Clone extends Function {

    public static Variable apply(Variable x) {
        return new Clone().record(x.data().copy(), x);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        return new Tensor[] {g};
    }
}
