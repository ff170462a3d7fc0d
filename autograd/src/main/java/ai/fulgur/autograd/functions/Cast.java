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
    /**
     * {@code -Dfulgur.grad.castIntoLeaf=false} casts a parameter's gradient here before accumulating it (the path
     * before, for measurements). Default: the half gradient of an autocast parameter cast goes to the parameter
     * uncast, and the accumulation casts it into (or adds it widened to) the F32 gradient in one pass.
     */
    private static final boolean CAST_INTO_LEAF = !"false".equals(System.getProperty("fulgur.grad.castIntoLeaf"));

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
        if (CAST_INTO_LEAF && inputIsLeaf(0)) {
            return new Tensor[] {g}; // the leaf's accumulation casts (Variable.accumulateGrad)
        }
        return new Tensor[] {g.cast(from)};
    }
}
