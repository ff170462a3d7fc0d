package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;

/**
 * Conversion to another dtype. Between floating types the gradient is converted back; to an integer or boolean
 * type the result is a constant (no gradient), as in PyTorch.
 */
public final class Cast extends Function {
    private final DType from;

    private Cast(DType from) {
        this.from = from;
    }

    public static Variable apply(Variable x, DType dtype) {
        if (dtype == x.dtype()) {
            return x;
        }
        Tensor out = x.data().cast(dtype);
        if (!dtype.isFloating() || !x.dtype().isFloating()) {
            return Variable.constant(out);
        }
        return new Cast(x.dtype()).record(out, x);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        return new Tensor[] {g.cast(from)};
    }
}
