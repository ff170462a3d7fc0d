package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.elementwise.UnaryOp;

/**
 * Element-wise functions of one input, with the scalar-parameter forms (x + s, x·s, s − x, s/x, x^s, s^x, max(x, s),
 * min(x, s)). One derivative table; comparisons give BOOL constants, and piecewise-constant ops (sign, floor, ceil,
 * round) a zero gradient, as in PyTorch.
 */
public final class UnaryMath extends Function {
    private final UnaryOp op;
    private final double s;

    private UnaryMath(UnaryOp op, double s) {
        this.op = op;
        this.s = s;
    }

    public static Variable apply(UnaryOp op, Variable x, double s) {
        Tensor out = Elementwise.unary(op, x.data(), s);
        if (op.isComparison() || !out.dtype().isFloating()) {
            return Variable.constant(out);
        }
        UnaryMath fn = new UnaryMath(op, s);
        Variable result = fn.record(out, x);
        if (!result.isLeaf()) {
            // the output is saved as a variable, not an internal: the caller holds it and may modify it in place
            fn.saveForBackward(x, result);
        }
        return result;
    }

    public static Variable apply(UnaryOp op, Variable x) {
        return apply(op, x, 0);
    }

    @Override
    public String name() {
        return "UnaryMath(" + op + ")";
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor x = saved(0);
        Tensor y = usesOutput(op) ? saved(1) : null;
        Tensor dydx = switch (op) {
            case NEG -> null;
            case ADD_SCALAR -> null;
            case RSUB_SCALAR -> null;
            case MUL_SCALAR -> null;
            case ABS -> Elementwise.unary(UnaryOp.SIGN, x);
            case EXP -> y;
            case EXPM1 -> Elementwise.addScalar(y, 1);
            case LOG -> Elementwise.unary(UnaryOp.RECIPROCAL, x);
            case LOG1P -> Elementwise.unary(UnaryOp.RECIPROCAL, Elementwise.addScalar(x, 1));
            case SQRT -> Elementwise.unary(UnaryOp.RDIV_SCALAR, y, 0.5);                      // 1/(2√x)
            case RSQRT -> Elementwise.mulScalar(Elementwise.powScalar(y, 3), -0.5);            // −½ x^(−3/2)
            case SQUARE -> Elementwise.mulScalar(x, 2);
            case RECIPROCAL -> Elementwise.neg(Elementwise.mul(y, y));                          // −1/x²
            case TANH -> Elementwise.unary(UnaryOp.RSUB_SCALAR, Elementwise.mul(y, y), 1);      // 1 − tanh²
            case SIGMOID -> Elementwise.mul(y, Elementwise.unary(UnaryOp.RSUB_SCALAR, y, 1));   // σ(1 − σ)
            case RELU -> Elementwise.unary(UnaryOp.GT_SCALAR, x, 0).cast(g.dtype());
            case ERF -> Elementwise.mulScalar(Elementwise.exp(Elementwise.neg(Elementwise.mul(x, x))),
                    2 / Math.sqrt(Math.PI));
            case SIN -> Elementwise.unary(UnaryOp.COS, x);
            case COS -> Elementwise.neg(Elementwise.unary(UnaryOp.SIN, x));
            case RDIV_SCALAR -> Elementwise.neg(Elementwise.div(y, x));                         // −s/x²
            case POW_SCALAR -> Elementwise.mulScalar(Elementwise.powScalar(x, s - 1), s);
            case RPOW_SCALAR -> Elementwise.mulScalar(y, Math.log(s));
            case MAX_SCALAR -> Elementwise.unary(UnaryOp.GT_SCALAR, x, s).cast(g.dtype());
            case MIN_SCALAR -> Elementwise.unary(UnaryOp.LT_SCALAR, x, s).cast(g.dtype());
            case SIGN, FLOOR, CEIL, ROUND -> Elementwise.zerosLike(x);
            default -> throw new IllegalStateException(op + " has no gradient");
        };
        Tensor dx = switch (op) {
            case NEG, RSUB_SCALAR -> Elementwise.neg(g);
            case ADD_SCALAR -> g;
            case MUL_SCALAR -> Elementwise.mulScalar(g, s);
            default -> Elementwise.mul(g, dydx);
        };
        return new Tensor[] {dx};
    }

    /** True for the ops whose derivative is written in terms of their output y. */
    private static boolean usesOutput(UnaryOp op) {
        return switch (op) {
            case EXP, EXPM1, SQRT, RSQRT, RECIPROCAL, TANH, SIGMOID, RDIV_SCALAR, RPOW_SCALAR -> true;
            default -> false;
        };
    }
}
