package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.reduce.Reduce;

/** cond ? a : b with broadcasting. The gradient goes to a where cond holds and to b elsewhere. */
public final class Where extends Function {
    private final Tensor cond;

    private Where(Tensor cond) {
        this.cond = cond;
    }

    public static Variable apply(Tensor cond, Variable a, Variable b) {
        Tensor out = Elementwise.where(cond, a.data(), b.data());
        return new Where(cond).record(out, a, b);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor zero = Tensor.zeros(ai.fulgur.ops.Shape.scalar(), g.dtype(), g.device());
        Tensor da = needsGrad(0) ? Reduce.sumToShape(Elementwise.where(cond, g, zero), inputShape(0)) : null;
        Tensor db = needsGrad(1) ? Reduce.sumToShape(Elementwise.where(cond, zero, g), inputShape(1)) : null;
        return new Tensor[] {da, db};
    }
}
