package ai.fulgur.ops.elementwise;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Checks;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;

/**
 * Element-wise ops with NumPy broadcasting: checks operands, chooses the result dtype, allocates the result and runs
 * the backend's {@link ElementwiseKernels}.
 *
 * <p>Dtypes: two floating operands must match (mixing F32 and F64 is almost always a bug, so it fails instead of
 * promoting); an integer or boolean operand is promoted to the other operand's type, as in PyTorch.
 */
public final class Elementwise {
    private Elementwise() {}

    // ---------------------------------------------------------------------------------------------------------------
    // unary

    /** op(x) (with scalar parameter s for the {@code *_SCALAR} ops). */
    public static Tensor unary(UnaryOp op, Tensor x, double s) {
        DType outType = unaryResultType(op, x.dtype(), s);
        Tensor out = Tensor.empty(x.shape(), outType, x.device());
        Backends.of(x).elementwise().unary(op, s, out, x);
        return out;
    }

    /** op(x) for the parameterless ops. */
    public static Tensor unary(UnaryOp op, Tensor x) {
        return unary(op, x, 0);
    }

    /** BOOL for comparisons; F32 where an integer input must give a float (exp, or int * 0.5); else x's type. */
    private static DType unaryResultType(UnaryOp op, DType x, double s) {
        if (op.isComparison()) {
            return DType.BOOL;
        }
        if (x.isFloating()) {
            return x;
        }
        if (op.needsFloat() || (scalarKeepsType(op) && !isIntegral(s))) {
            return DType.F32;
        }
        return x == DType.BOOL ? DType.I64 : x;
    }

    private static boolean isIntegral(double s) {
        return s == Math.rint(s) && !Double.isInfinite(s);
    }

    private static boolean scalarKeepsType(UnaryOp op) {
        return switch (op) {
            case ADD_SCALAR, MUL_SCALAR, RSUB_SCALAR, POW_SCALAR, MAX_SCALAR, MIN_SCALAR -> true;
            default -> false;
        };
    }

    public static Tensor neg(Tensor x) {
        return unary(UnaryOp.NEG, x);
    }

    public static Tensor exp(Tensor x) {
        return unary(UnaryOp.EXP, x);
    }

    public static Tensor log(Tensor x) {
        return unary(UnaryOp.LOG, x);
    }

    public static Tensor sqrt(Tensor x) {
        return unary(UnaryOp.SQRT, x);
    }

    public static Tensor tanh(Tensor x) {
        return unary(UnaryOp.TANH, x);
    }

    public static Tensor addScalar(Tensor x, double s) {
        return unary(UnaryOp.ADD_SCALAR, x, s);
    }

    public static Tensor mulScalar(Tensor x, double s) {
        return unary(UnaryOp.MUL_SCALAR, x, s);
    }

    public static Tensor powScalar(Tensor x, double s) {
        return unary(UnaryOp.POW_SCALAR, x, s);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // binary

    /** op(a, b) broadcast to the common shape. */
    public static Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        String name = op.name().toLowerCase(java.util.Locale.ROOT);
        Checks.sameDevice(name, "a", a, "b", b);
        Shape shape = Shape.broadcast(name, a.shape(), b.shape());
        DType common = resultType(name, a, b);
        DType outType = op.isComparison() ? DType.BOOL : common;
        if (op == BinaryOp.DIV && !common.isFloating()) {
            outType = DType.F32; // true division, as PyTorch's torch.div
        }
        Tensor out = Tensor.empty(shape, outType, a.device());
        Backends.of(a).elementwise().binary(op, out, a.expand(shape), b.expand(shape));
        return out;
    }

    /**
     * a + b for same-shaped floating operands of different widths (F32 and BF16 or F16): the narrower one is widened
     * element by element inside the kernel, and the result has the wider type. Autocast's F32 + half promotion in one
     * pass, without an F32 copy of the half operand.
     *
     * @throws IllegalArgumentException unless {@link #widens(Tensor, Tensor)}
     */
    public static Tensor addWidening(Tensor a, Tensor b) {
        Checks.sameDevice("addWidening", "a", a, "b", b);
        if (!widens(a, b)) {
            throw new IllegalArgumentException("addWidening: operands must have one shape, one F32 and the "
                    + "other BF16 or F16, got " + Checks.describe("a", a) + ", "
                    + Checks.describe("b", b));
        }
        DType wide = a.dtype().byteSize() > b.dtype().byteSize() ? a.dtype() : b.dtype();
        Tensor out = Tensor.empty(a.shape(), wide, a.device());
        Backends.of(a).elementwise().binary(BinaryOp.ADD, out, a, b);
        return out;
    }

    /** Whether {@link #addWidening} takes a and b: one shape, one operand F32 and the other BF16 or F16. */
    public static boolean widens(Tensor a, Tensor b) {
        return a.shape().equals(b.shape()) && (a.dtype() == DType.F32 && b.dtype().isHalf()
                || a.dtype().isHalf() && b.dtype() == DType.F32);
    }

    /** The dtype both operands compute in; see the class comment. */
    public static DType resultType(String op, Tensor a, Tensor b) {
        if (a.dtype().isFloating() && b.dtype().isFloating()) {
            Checks.sameDtype(op, "a", a, "b", b);
            return a.dtype();
        }
        return DType.promote(a.dtype(), b.dtype());
    }

    public static Tensor add(Tensor a, Tensor b) {
        return binary(BinaryOp.ADD, a, b);
    }

    public static Tensor sub(Tensor a, Tensor b) {
        return binary(BinaryOp.SUB, a, b);
    }

    public static Tensor mul(Tensor a, Tensor b) {
        return binary(BinaryOp.MUL, a, b);
    }

    public static Tensor div(Tensor a, Tensor b) {
        return binary(BinaryOp.DIV, a, b);
    }

    /** cond ? a : b, broadcast. */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) {
        Checks.sameDevice("where", "a", a, "b", b);
        Checks.sameDevice("where", "cond", cond, "a", a);
        if (cond.dtype() != DType.BOOL) {
            throw new IllegalArgumentException("where: " + Checks.describe("cond", cond) + " must be BOOL");
        }
        Shape shape = Shape.broadcast("where", Shape.broadcast("where", cond.shape(), a.shape()), b.shape());
        Tensor out = Tensor.empty(shape, resultType("where", a, b), a.device());
        Backends.of(a).elementwise().where(out, cond.expand(shape), a.expand(shape), b.expand(shape));
        return out;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // in place (optimizers, gradient accumulation, DJL's addi/subi/...)

    /** dst = op(dst, src) in place, src broadcast to dst's shape; dst must be contiguous. */
    public static void binaryInPlace(BinaryOp op, Tensor dst, Tensor src) {
        String name = op.name().toLowerCase(java.util.Locale.ROOT) + "_";
        Checks.sameDevice(name, "dst", dst, "src", src);
        Shape shape = Shape.broadcast(name, dst.shape(), src.shape());
        if (!shape.equals(dst.shape())) {
            throw new IllegalArgumentException(name + ": in-place result of shape " + shape + " does not fit "
                    + Checks.describe("dst", dst));
        }
        if (!dst.isContiguous()) {
            throw new IllegalArgumentException(name + ": in-place target " + Checks.describe("dst", dst)
                    + " must be contiguous");
        }
        if (dst.dtype().isFloating() && src.dtype().isFloating()) {
            Checks.sameDtype(name, "dst", dst, "src", src);
        }
        Backends.of(dst).elementwise().binary(op, dst, dst, src.expand(shape));
    }

    /**
     * dst += src in one pass, src widened to dst's floating type: an F32 gradient or residual taking a BF16 or F16
     * contribution without an F32 copy of it. Same-type operands are a plain in-place add.
     *
     * @throws IllegalArgumentException unless {@link #accumulates(Tensor, Tensor)}
     */
    public static void accumulate(Tensor dst, Tensor src) {
        Checks.sameDevice("accumulate", "dst", dst, "src", src);
        if (!accumulates(dst, src)) {
            throw new IllegalArgumentException("accumulate: " + Checks.describe("dst", dst) + " must be contiguous, "
                    + "with src's shape and a floating type at least as wide as src's, got "
                    + Checks.describe("src", src));
        }
        Backends.of(dst).elementwise().binary(BinaryOp.ADD, dst, dst, src);
    }

    /** Whether {@link #accumulate} takes these operands: same shape, dst contiguous, src floating and no wider. */
    public static boolean accumulates(Tensor dst, Tensor src) {
        return dst.shape().equals(src.shape()) && dst.isContiguous() && dst.dtype().isFloating()
                && src.dtype().isFloating() && src.dtype().byteSize() <= dst.dtype().byteSize()
                && !(dst.dtype().isHalf() && src.dtype().isHalf() && dst.dtype() != src.dtype());
    }

    /** dst = op(dst, s) in place. */
    public static void unaryInPlace(UnaryOp op, Tensor dst, double s) {
        if (!dst.isContiguous()) {
            throw new IllegalArgumentException(op + "_: in-place target " + Checks.describe("dst", dst)
                    + " must be contiguous");
        }
        Backends.of(dst).elementwise().unary(op, s, dst, dst);
    }

    /** Copies src (broadcast) into dst, which may be a strided view (slice assignment). */
    public static void assign(Tensor dst, Tensor src) {
        Checks.sameDevice("assign", "dst", dst, "src", src);
        Backends.of(dst).elementwise().copy(dst, src.expand(dst.shape()));
    }

    /** Sets every element of dst (possibly a view) to value. */
    public static void fill(Tensor dst, double value) {
        Backends.of(dst).elementwise().fill(dst, value);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // creation

    /** A tensor of the given shape filled with value. */
    public static Tensor full(Shape shape, double value, DType dtype, Device device) {
        if (value == 0) {
            return Tensor.zeros(shape, dtype, device);
        }
        Tensor t = Tensor.empty(shape, dtype, device);
        fill(t, value);
        return t;
    }

    /** Zeros shaped and typed like {@code t}, on its device. */
    public static Tensor zerosLike(Tensor t) {
        return Tensor.zeros(t.shape(), t.dtype(), t.device());
    }

    /** Ones shaped and typed like {@code t}, on its device. */
    public static Tensor onesLike(Tensor t) {
        return full(t.shape(), 1, t.dtype(), t.device());
    }
}
