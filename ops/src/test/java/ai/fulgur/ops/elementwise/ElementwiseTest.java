package ai.fulgur.ops.elementwise;

import static ai.fulgur.ops.testing.PyTorch.assertMatches;
import static ai.fulgur.ops.testing.PyTorch.torch;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.internal.NDArrayEx;
import ai.djl.ndarray.types.DataType;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.testing.PyTorch;
import ai.fulgur.ops.testing.TestTensors;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every {@link UnaryOp} and {@link BinaryOp}, {@link Elementwise#where}, copies with dtype conversion and fills against
 * PyTorch (DJL's PyTorch engine) on the same inputs: several shapes, broadcasting, strided views built identically on
 * both sides (transposed, stepped slices with negative bounds, expanded, permuted), integer dtypes computed exactly.
 * Ops DJL does not expose (log1p, expm1) are compared with PyTorch's float64 log(1 + x) and exp(x) − 1, and 16-bit
 * float rounding with a round-to-nearest-even written here (DJL's PyTorch engine aborts on BF16/F16 casts).
 *
 * <p>Tolerances: F32 |diff| ≤ 1e-6 + 1e-5·|ref|; F64 1e-12 + 1e-12·|ref|; integer and boolean results exact.
 */
class ElementwiseTest {
    private static final double F32_ATOL = 1e-6;
    private static final double F32_RTOL = 1e-5;
    private static final double F64_TOL = 1e-12;

    private static NDManager manager;

    @BeforeAll
    static void open() {
        manager = PyTorch.manager();
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // inputs: a base tensor and a view of it, built the same way in Fulgur and in PyTorch

    /** A view applied to our tensor and, identically, to a PyTorch array of the same base. */
    record View(String name, long[] base, UnaryOperator<Tensor> ours, UnaryOperator<NDArray> theirs) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static View plain(long... shape) {
        return new View("contiguous " + Shape.of(shape), shape, t -> t, a -> a);
    }

    /** Contiguous shapes of every rank up to 3 (a scalar, a 1-element vector, sizes that are not multiples of 8). */
    private static List<View> views() {
        List<View> v = new ArrayList<>();
        v.add(plain());
        v.add(plain(1));
        v.add(plain(113));
        v.add(plain(7, 203));
        v.add(plain(3, 1, 5));
        v.add(new View("transposed (13, 17)", new long[] {13, 17}, t -> t.transpose(0, 1), a -> a.transpose(1, 0)));
        v.add(new View("stepped slice (9, 31)[-7:100:3, 1:-1:2]", new long[] {9, 31},
                t -> t.slice(0, -7, 100, 3).slice(1, 1, -1, 2), a -> a.get("-7:100:3, 1:-1:2")));
        v.add(new View("expanded (1, 203) to (5, 203)", new long[] {1, 203}, t -> t.expand(Shape.of(5, 203)),
                a -> a.broadcast(5, 203)));
        v.add(new View("permuted (4, 5, 6) as (2, 0, 1)", new long[] {4, 5, 6}, t -> t.permute(2, 0, 1),
                a -> a.transpose(2, 0, 1)));
        return v;
    }

    /** The values an op is tested on: its domain, and a half-integer grid where ties and zeros matter. */
    private static double[] values(SplittableRandom rnd, int n, double lo, double hi, boolean grid) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            double x = lo + (hi - lo) * rnd.nextDouble();
            v[i] = grid ? Math.rint(x * 2) / 2 : x;
        }
        return v;
    }

    private static int numel(long[] shape) {
        return Math.toIntExact(Shape.of(shape).numel());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // unary

    /** Domain [lo, hi) of an op's test inputs and whether to put them on the half-integer grid. */
    private record Domain(double lo, double hi, boolean grid) {}

    private static Domain unaryDomain(UnaryOp op) {
        return switch (op) {
            case LOG, SQRT, RSQRT, POW_SCALAR -> new Domain(0.1, 4, false);
            case LOG1P -> new Domain(-0.5, 3, false);
            case RECIPROCAL, RDIV_SCALAR -> new Domain(0.25, 3, false);
            case ROUND, LOGICAL_NOT, EQ_SCALAR, NE_SCALAR, LT_SCALAR, LE_SCALAR, GT_SCALAR, GE_SCALAR, SIGN, RELU,
                    MAX_SCALAR, MIN_SCALAR -> new Domain(-3, 3, true);
            default -> new Domain(-3, 3, false);
        };
    }

    /** The scalar parameter each op is tested with (0.5 hits the grid, so comparisons see ties). */
    private static double unaryScalar(UnaryOp op) {
        return switch (op) {
            case ADD_SCALAR -> 1.25;
            case MUL_SCALAR -> -0.75;
            case RSUB_SCALAR -> 2.5;
            case RDIV_SCALAR -> 1.5;
            case POW_SCALAR -> 2.5;
            case RPOW_SCALAR -> 1.75;
            default -> 0.5;
        };
    }

    /** PyTorch's version of op on x; {@code s} is the scalar as the Java number type matching x's dtype. */
    private static NDArray torchUnary(UnaryOp op, NDArray x, Number s) {
        NDArrayEx ex = x.getNDArrayInternal();
        return switch (op) {
            case NEG -> x.neg();
            case ABS -> x.abs();
            case SIGN -> x.sign();
            case EXP -> x.exp();
            case LOG -> x.log();
            case LOG1P -> x.toType(DataType.FLOAT64, false).add(1.0).log(); // no log1p in DJL: float64 formula
            case EXPM1 -> x.toType(DataType.FLOAT64, false).exp().sub(1.0); // no expm1 in DJL: float64 formula
            case SQRT -> x.sqrt();
            case RSQRT -> x.sqrt().getNDArrayInternal().rdiv(1);
            case SQUARE -> x.square();
            case RECIPROCAL -> ex.rdiv(1);
            case TANH -> x.tanh();
            case SIGMOID -> ex.sigmoid();
            case RELU -> ex.relu();
            case ERF -> x.erf();
            case SIN -> x.sin();
            case COS -> x.cos();
            case FLOOR -> x.floor();
            case CEIL -> x.ceil();
            case ROUND -> x.round();
            case LOGICAL_NOT -> x.logicalNot();
            case ADD_SCALAR -> x.add(s);
            case MUL_SCALAR -> x.mul(s);
            case RSUB_SCALAR -> ex.rsub(s);
            case RDIV_SCALAR -> ex.rdiv(s);
            case POW_SCALAR -> x.pow(s);
            case RPOW_SCALAR -> ex.rpow(s);
            case MAX_SCALAR -> x.maximum(s);
            case MIN_SCALAR -> x.minimum(s);
            case EQ_SCALAR -> x.eq(s);
            case NE_SCALAR -> x.neq(s);
            case LT_SCALAR -> x.lt(s);
            case LE_SCALAR -> x.lte(s);
            case GT_SCALAR -> x.gt(s);
            case GE_SCALAR -> x.gte(s);
        };
    }

    private static void checkUnaryFloat(UnaryOp op, DType dtype, double atol, double rtol) {
        SplittableRandom rnd = new SplittableRandom(op.ordinal() * 31L + dtype.ordinal());
        Domain d = unaryDomain(op);
        double s = unaryScalar(op);
        for (View v : views()) {
            Tensor base = Tensor.of(values(rnd, numel(v.base()), d.lo(), d.hi(), d.grid()), v.base()).cast(dtype);
            Tensor x = v.ours().apply(base);
            Tensor got = Elementwise.unary(op, x, s);
            Number scalar = dtype == DType.F32 ? (Number) (float) s : (Number) s; // a Double would make F32 scalars F64
            NDArray want = torchUnary(op, v.theirs().apply(torch(manager, base)), scalar);
            if (op == UnaryOp.LOG1P || op == UnaryOp.EXPM1) {
                assertEquals(dtype, got.dtype(), op + " keeps the input dtype");
                want = want.toType(dtype == DType.F32 ? DataType.FLOAT32 : DataType.FLOAT64, false);
            }
            assertMatches(op + " " + dtype + " on " + v, want, got, atol, rtol);
        }
    }

    @ParameterizedTest(name = "{0} F32")
    @EnumSource(UnaryOp.class)
    void unaryF32MatchesTorch(UnaryOp op) {
        checkUnaryFloat(op, DType.F32, F32_ATOL, F32_RTOL);
    }

    @ParameterizedTest(name = "{0} F64")
    @EnumSource(UnaryOp.class)
    void unaryF64MatchesTorch(UnaryOp op) {
        checkUnaryFloat(op, DType.F64, F64_TOL, F64_TOL);
    }

    @Test
    void roundIsHalfToEvenLikeTorch() {
        Tensor x = Tensor.of(new float[] {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 0.49999997f, 3.5f}, 8);
        Tensor got = Elementwise.unary(UnaryOp.ROUND, x);
        assertArrayEquals(new double[] {0, 2, 2, -0.0, -2, -2, 0, 4}, got.toDoubleArray());
        assertMatches("round", torch(manager, x).round(), got, 0, 0);
    }

    /** Ops defined on integers run in long arithmetic: exact beyond 2^53, and the result keeps the integer dtype. */
    @ParameterizedTest(name = "{0} I64 and I32")
    @EnumSource(value = UnaryOp.class, names = {"NEG", "ABS", "SIGN", "SQUARE", "RELU", "FLOOR", "CEIL", "ROUND",
        "LOGICAL_NOT", "ADD_SCALAR", "MUL_SCALAR", "RSUB_SCALAR", "POW_SCALAR", "RPOW_SCALAR", "MAX_SCALAR",
        "MIN_SCALAR", "EQ_SCALAR", "NE_SCALAR", "LT_SCALAR", "LE_SCALAR", "GT_SCALAR", "GE_SCALAR"})
    void unaryIntegerIsExact(UnaryOp op) {
        SplittableRandom rnd = new SplittableRandom(op.ordinal());
        long s = switch (op) {
            case POW_SCALAR -> 3;
            case RPOW_SCALAR -> 3;
            case MUL_SCALAR -> -7;
            case ADD_SCALAR, RSUB_SCALAR -> 3; // on values near 2^60, where only long math is exact
            default -> 2;
        };
        long bound = switch (op) {
            case SQUARE, MUL_SCALAR -> 1L << 28;
            case POW_SCALAR -> 1 << 20;
            case RPOW_SCALAR -> 30;
            case ADD_SCALAR, RSUB_SCALAR, NEG, ABS, SIGN, RELU, FLOOR, CEIL, ROUND -> 1L << 60;
            default -> 5;
        };
        for (DType dtype : new DType[] {DType.I64, DType.I32}) {
            if (dtype == DType.I32 && (bound > Integer.MAX_VALUE || s > Integer.MAX_VALUE || op == UnaryOp.SQUARE
                    || op == UnaryOp.MUL_SCALAR || op == UnaryOp.POW_SCALAR)) {
                continue; // I32 overflow semantics are not what this test is about
            }
            long[] v = new long[1000];
            for (int i = 0; i < v.length; i++) {
                v[i] = op == UnaryOp.RPOW_SCALAR ? rnd.nextLong(bound) : rnd.nextLong(-bound, bound);
            }
            v[0] = 0;
            v[1] = 2;
            Tensor x = Tensor.of(v, 10, 100).cast(dtype);
            Tensor got = Elementwise.unary(op, x, s);
            NDArray want = torchUnary(op, torch(manager, x), dtype == DType.I64 ? (Number) s : (Number) (int) s);
            assertMatches(op + " " + dtype, want, got, 0, 0);
        }
    }

    /** exp of an integer, or an integer times 0.5, gives F32 as in PyTorch. */
    @ParameterizedTest(name = "{0} of I64 gives F32")
    @EnumSource(value = UnaryOp.class, names = {"EXP", "LOG", "SQRT", "TANH", "SIGMOID", "ERF", "SIN", "RECIPROCAL",
        "RDIV_SCALAR", "MUL_SCALAR", "ADD_SCALAR", "POW_SCALAR"})
    void unaryOfIntegerGivesFloat(UnaryOp op) {
        long[] v = new long[203];
        for (int i = 0; i < v.length; i++) {
            v[i] = i % 9 + 1;
        }
        Tensor x = Tensor.of(v, v.length);
        double s = op == UnaryOp.RDIV_SCALAR ? 3 : 0.5; // RDIV is true division even with an integral scalar
        Tensor got = Elementwise.unary(op, x, s);
        assertEquals(DType.F32, got.dtype(), op + " of I64 with scalar " + s);
        NDArray want = torchUnary(op, torch(manager, x), op == UnaryOp.RDIV_SCALAR ? (Number) 3L : (Number) 0.5f);
        assertMatches(op + " of I64", want, got, F32_ATOL, F32_RTOL);
    }

    @Test
    void integerHalvedGivesFloat() {
        Tensor x = Tensor.of(new long[] {1, 2, 3, -7, 1L << 20}, 5);
        Tensor half = Elementwise.mulScalar(x, 0.5);
        assertEquals(DType.F32, half.dtype());
        assertArrayEquals(new double[] {0.5, 1, 1.5, -3.5, 1 << 19}, half.toDoubleArray());
        Tensor divided = Elementwise.div(x, Tensor.of(new long[] {2}));
        assertEquals(DType.F32, divided.dtype());
        assertArrayEquals(new double[] {0.5, 1, 1.5, -3.5, 1 << 19}, divided.toDoubleArray());
        assertMatches("I64 / I64", torch(manager, x).div(torch(manager, Tensor.of(new long[] {2}))), divided, 0, 0);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // binary

    /** Shape pairs that broadcast: NumPy-style alignment from the right, size-1 axes, rank-0 scalars. */
    private static final long[][][] BROADCAST_PAIRS = {
        {{3, 1, 5}, {4, 5}},
        {{4, 5}, {3, 1, 5}},
        {{}, {4, 5}},
        {{7, 203}, {}},
        {{}, {}},
        {{113}, {113}},
        {{7, 1}, {1, 203}},
        {{1}, {6}},
        {{2, 3, 1, 4}, {3, 5, 1}},
    };

    private static Domain binaryDomainA(BinaryOp op) {
        return switch (op) {
            case POW -> new Domain(0.1, 3, false);
            case EQ, NE, LT, LE, GT, GE, LOGICAL_AND, LOGICAL_OR, LOGICAL_XOR, MAX, MIN -> new Domain(-2, 2, true);
            default -> new Domain(-3, 3, false);
        };
    }

    private static Domain binaryDomainB(BinaryOp op) {
        return switch (op) {
            case DIV, MOD -> new Domain(0.25, 3, false); // sign flipped at random below: no zero divisor
            case POW -> new Domain(-2, 2.5, false);
            default -> binaryDomainA(op);
        };
    }

    private static double[] binaryValuesB(BinaryOp op, SplittableRandom rnd, int n) {
        Domain d = binaryDomainB(op);
        double[] v = values(rnd, n, d.lo(), d.hi(), d.grid());
        if (op == BinaryOp.DIV || op == BinaryOp.MOD) {
            for (int i = 0; i < n; i++) {
                v[i] = rnd.nextBoolean() ? v[i] : -v[i];
            }
        }
        return v;
    }

    private static NDArray torchBinary(BinaryOp op, NDArray a, NDArray b) {
        return switch (op) {
            case ADD -> a.add(b);
            case SUB -> a.sub(b);
            case MUL -> a.mul(b);
            case DIV -> a.div(b);
            case POW -> a.pow(b);
            case MAX -> a.maximum(b);
            case MIN -> a.minimum(b);
            case MOD -> a.mod(b); // torch.remainder: the sign of the divisor
            case EQ -> a.eq(b);
            case NE -> a.neq(b);
            case LT -> a.lt(b);
            case LE -> a.lte(b);
            case GT -> a.gt(b);
            case GE -> a.gte(b);
            case LOGICAL_AND -> a.logicalAnd(b);
            case LOGICAL_OR -> a.logicalOr(b);
            case LOGICAL_XOR -> a.logicalXor(b);
        };
    }

    private static void checkBinaryFloat(BinaryOp op, DType dtype, double atol, double rtol) {
        SplittableRandom rnd = new SplittableRandom(op.ordinal() * 131L + dtype.ordinal());
        Domain da = binaryDomainA(op);
        for (long[][] pair : BROADCAST_PAIRS) {
            Tensor a = Tensor.of(values(rnd, numel(pair[0]), da.lo(), da.hi(), da.grid()), pair[0]).cast(dtype);
            Tensor b = Tensor.of(binaryValuesB(op, rnd, numel(pair[1])), pair[1]).cast(dtype);
            Tensor got = Elementwise.binary(op, a, b);
            NDArray want = torchBinary(op, torch(manager, a), torch(manager, b));
            assertMatches(op + " " + dtype + " " + a.shape() + " with " + b.shape(), want, got, atol, rtol);
        }
        // strided operands: each view against a contiguous operand of the view's shape, and against itself
        for (View v : views()) {
            Tensor baseA = Tensor.of(values(rnd, numel(v.base()), da.lo(), da.hi(), da.grid()), v.base()).cast(dtype);
            Tensor baseB = Tensor.of(binaryValuesB(op, rnd, numel(v.base())), v.base()).cast(dtype);
            Tensor a = v.ours().apply(baseA);
            Tensor b = v.ours().apply(baseB);
            Tensor bc = Tensor.of(binaryValuesB(op, rnd, Math.toIntExact(a.numel())), a.shape().dims()).cast(dtype);
            NDArray ta = v.theirs().apply(torch(manager, baseA));
            NDArray tb = v.theirs().apply(torch(manager, baseB));
            assertMatches(op + " " + dtype + " view " + v + " with view", torchBinary(op, ta, tb),
                    Elementwise.binary(op, a, b), atol, rtol);
            assertMatches(op + " " + dtype + " view " + v + " with contiguous", torchBinary(op, ta,
                    torch(manager, bc)), Elementwise.binary(op, a, bc), atol, rtol);
        }
    }

    @ParameterizedTest(name = "{0} F32")
    @EnumSource(BinaryOp.class)
    void binaryF32MatchesTorch(BinaryOp op) {
        checkBinaryFloat(op, DType.F32, F32_ATOL, F32_RTOL);
    }

    @ParameterizedTest(name = "{0} F64")
    @EnumSource(BinaryOp.class)
    void binaryF64MatchesTorch(BinaryOp op) {
        checkBinaryFloat(op, DType.F64, F64_TOL, F64_TOL);
    }

    /** Integer ops run in long arithmetic: exact for values past 2^53, where a double path would round. */
    @ParameterizedTest(name = "{0} I64")
    @EnumSource(value = BinaryOp.class, mode = EnumSource.Mode.EXCLUDE, names = {"DIV"})
    void binaryI64IsExact(BinaryOp op) {
        SplittableRandom rnd = new SplittableRandom(op.ordinal() + 1000);
        long bound = switch (op) {
            case MUL -> 1L << 31;
            case POW -> 12;
            case EQ, NE, LT, LE, GT, GE, LOGICAL_AND, LOGICAL_OR, LOGICAL_XOR -> 3;
            default -> 1L << 61;
        };
        long[] a = new long[3 * 4 * 5];
        long[] b = new long[4 * 5];
        for (int i = 0; i < a.length; i++) {
            a[i] = rnd.nextLong(-bound, bound);
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = op == BinaryOp.POW ? rnd.nextLong(0, 9) : rnd.nextLong(-bound, bound);
            if (op == BinaryOp.MOD && b[i] == 0) {
                b[i] = 7;
            }
        }
        a[0] = (1L << 53) + 1;
        b[0] = op == BinaryOp.POW ? 1 : 2;
        Tensor ta = Tensor.of(a, 3, 4, 5);
        Tensor tb = Tensor.of(b, 4, 5);
        Tensor got = Elementwise.binary(op, ta, tb);
        assertMatches(op + " I64", torchBinary(op, torch(manager, ta), torch(manager, tb)), got, 0, 0);
        // and with a transposed integer view
        Tensor tt = Tensor.of(a, 3, 5, 4).transpose(1, 2);
        assertMatches(op + " I64 transposed", torchBinary(op, torch(manager, Tensor.of(a, 3, 5, 4)).transpose(0, 2, 1),
                torch(manager, tb)), Elementwise.binary(op, tt, tb), 0, 0);
    }

    /** Mixed dtypes promote as PyTorch does: integer or boolean to the other operand's type, I32 with I64 to I64. */
    @Test
    void mixedDtypesPromoteLikeTorch() {
        SplittableRandom rnd = new SplittableRandom(7);
        Tensor f32 = TestTensors.uniform(rnd, DType.F32, -3, 3, 4, 5);
        Tensor f64 = TestTensors.uniform(rnd, DType.F64, -3, 3, 4, 5);
        Tensor i64 = TestTensors.indices(rnd, 9, 3, 1, 5);
        Tensor i32 = TestTensors.indices(rnd, 9, 4, 5).cast(DType.I32);
        Tensor bool = Elementwise.unary(UnaryOp.GT_SCALAR, TestTensors.uniform(rnd, DType.F32, -1, 1, 5), 0);
        Tensor[][] pairs = {{i64, f32}, {f32, i64}, {i64, f64}, {bool, f32}, {f64, bool}, {i32, i64}, {i32, i32},
            {bool, i64}, {i32, f64}, {bool, bool}};
        for (Tensor[] p : pairs) {
            for (BinaryOp op : new BinaryOp[] {BinaryOp.ADD, BinaryOp.MUL, BinaryOp.DIV, BinaryOp.MAX, BinaryOp.LT}) {
                if (p[0].dtype() == DType.BOOL && p[1].dtype() == DType.BOOL && op != BinaryOp.MUL
                        && op != BinaryOp.LT) {
                    continue; // PyTorch rejects bool - bool and friends; bool + bool is a logical or, tested below
                }
                String what = op + " " + p[0].dtype() + " " + p[0].shape() + " with " + p[1].dtype() + " "
                        + p[1].shape();
                Tensor got = Elementwise.binary(op, p[0], p[1]);
                NDArray want = torchBinary(op, torch(manager, p[0]), torch(manager, p[1]));
                assertMatches(what, want, got, F32_ATOL, F32_RTOL);
            }
        }
        Tensor orOfBools = Elementwise.add(bool, bool.slice(0, 0, 5).expand(Shape.of(2, 5)));
        assertEquals(DType.BOOL, orOfBools.dtype());
        assertMatches("BOOL + BOOL", torch(manager, bool).logicalOr(torch(manager, bool)).broadcast(2, 5), orOfBools,
                0, 0);
    }

    @Test
    void int8WithUint8PromotesToI32AsDocumented() {
        assertEquals(DType.I32, DType.promote(DType.I8, DType.U8));
        assertEquals(DType.I64, DType.promote(DType.I32, DType.I64));
        assertEquals(DType.F32, DType.promote(DType.BF16, DType.F16));
        assertEquals(DType.F32, DType.promote(DType.I64, DType.F32));
        assertEquals(DType.I32, DType.promote(DType.BOOL, DType.I32));
    }

    @Test
    void broadcastFailureNamesOpAndBothShapes() {
        Tensor a = Tensor.zeros(Shape.of(3, 4), DType.F32, Device.CPU);
        Tensor b = Tensor.zeros(Shape.of(5), DType.F32, Device.CPU);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Elementwise.mul(a, b));
        assertTrue(e.getMessage().contains("mul") && e.getMessage().contains("(3, 4)")
                && e.getMessage().contains("(5)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Elementwise.where(
                Tensor.zeros(Shape.of(2, 1), DType.BOOL, Device.CPU), a, b));
        assertTrue(e.getMessage().contains("where") && e.getMessage().contains("(3, 4)"), e.getMessage());
    }

    @Test
    void floatWidthMixFailsNamingBothDtypes() {
        Tensor a = Tensor.zeros(Shape.of(2, 3), DType.F32, Device.CPU);
        Tensor b = Tensor.zeros(Shape.of(2, 3), DType.F64, Device.CPU);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Elementwise.add(a, b));
        assertTrue(e.getMessage().contains("add") && e.getMessage().contains("F32")
                && e.getMessage().contains("F64"), e.getMessage());
        Tensor h = Tensor.zeros(Shape.of(2, 3), DType.BF16, Device.CPU);
        e = assertThrows(IllegalArgumentException.class, () -> Elementwise.sub(h, a));
        assertTrue(e.getMessage().contains("BF16") && e.getMessage().contains("F32"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Elementwise.where(
                Tensor.zeros(Shape.of(2, 3), DType.BOOL, Device.CPU), a, b));
        assertTrue(e.getMessage().contains("F32") && e.getMessage().contains("F64"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Elementwise.where(a, a, a));
        assertTrue(e.getMessage().contains("cond") && e.getMessage().contains("BOOL"), e.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // where

    @Test
    void whereBroadcastsLikeTorch() {
        SplittableRandom rnd = new SplittableRandom(11);
        Tensor cond = Elementwise.unary(UnaryOp.GT_SCALAR, TestTensors.uniform(rnd, DType.F32, -1, 1, 3, 1, 5), 0);
        for (DType dtype : new DType[] {DType.F32, DType.F64, DType.I64}) {
            Tensor a = TestTensors.uniform(rnd, DType.F64, -100, 100, 4, 5).cast(dtype);
            Tensor b = TestTensors.uniform(rnd, DType.F64, -100, 100).cast(dtype);
            Tensor got = Elementwise.where(cond, a, b);
            // DJL's where does not broadcast: expand the operands on the PyTorch side first
            NDArray want = NDArrays.where(torch(manager, cond).broadcast(3, 4, 5), torch(manager, a).broadcast(3, 4, 5),
                    torch(manager, b).broadcast(3, 4, 5));
            assertMatches("where " + dtype, want, got, 0, 0);
            // transposed operands
            Tensor at = TestTensors.uniform(rnd, DType.F64, -100, 100, 5, 4).cast(dtype);
            Tensor c45 = Elementwise.unary(UnaryOp.GT_SCALAR, TestTensors.uniform(rnd, DType.F32, -1, 1, 4, 5), 0);
            Tensor gotT = Elementwise.where(c45.transpose(0, 1), at, a.transpose(0, 1));
            NDArray wantT = NDArrays.where(torch(manager, c45).transpose(1, 0), torch(manager, at),
                    torch(manager, a).transpose(1, 0));
            assertMatches("where " + dtype + " transposed", wantT, gotT, 0, 0);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // copy and cast

    @Test
    void castsMatchTorch() {
        SplittableRandom rnd = new SplittableRandom(3);
        Tensor f64 = TestTensors.uniform(rnd, DType.F64, -1e3, 1e3, 7, 203);
        double[] special = {0.0, -0.0, 0.5, -0.5, 1.5, -2.7, 1e-40, 3.4e38, 1e300, Double.NaN,
            Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 16777217.0, -1e-300};
        Tensor specials = Tensor.of(special, special.length);
        Tensor bools = Tensor.of(new long[] {0, 1, 1, 0, 1}, 5).cast(DType.BOOL);
        Tensor ints = Tensor.of(new long[] {0, -1, 5, 1L << 40, -(1L << 24) - 1}, 5);
        Object[][] cases = {
            {f64, DType.F32}, {f64.cast(DType.F32), DType.F64}, {f64.cast(DType.F32), DType.I64},
            {f64, DType.I32}, {f64.cast(DType.F32), DType.BOOL}, {specials, DType.F32}, {specials, DType.BOOL},
            {ints, DType.F32}, {ints, DType.F64}, {ints, DType.BOOL}, {bools, DType.F32}, {bools, DType.I64},
            {ints.slice(0, 0, 3), DType.I32}, {f64.transpose(0, 1), DType.F32},
            {f64.slice(1, -50, 200, 7), DType.I64},
        };
        for (Object[] c : cases) {
            Tensor src = (Tensor) c[0];
            DType to = (DType) c[1];
            Tensor got = src.cast(to);
            assertTrue(got.isContiguous());
            NDArray want = torch(manager, src).toType(toTorchType(to), false);
            assertMatches("cast " + src.dtype() + " " + src.shape() + " to " + to, want, got, 0, 0);
        }
    }

    private static DataType toTorchType(DType t) {
        return switch (t) {
            case F64 -> DataType.FLOAT64;
            case F32 -> DataType.FLOAT32;
            case I64 -> DataType.INT64;
            case I32 -> DataType.INT32;
            case BOOL -> DataType.BOOLEAN;
            default -> throw new IllegalArgumentException(t.toString());
        };
    }

    /**
     * v rounded to a binary float with {@code bits} significant bits, smallest normal exponent {@code minExp} and
     * largest finite value {@code max}: nearest, ties to even, overflow to infinity, gradual underflow.
     */
    static double roundToFormat(double v, int bits, int minExp, double max) {
        if (v == 0 || Double.isNaN(v) || Double.isInfinite(v)) {
            return v;
        }
        int e = Math.max(Math.getExponent(v), minExp);
        double ulp = Math.scalb(1.0, e - (bits - 1));
        double r = Math.rint(v / ulp) * ulp; // scaling by a power of two is exact; rint rounds ties to even
        return Math.abs(r) > max ? Math.copySign(Double.POSITIVE_INFINITY, v) : r;
    }

    static double roundToBf16(double v) {
        return roundToFormat((float) v, 8, -126, 0x1.FEp127); // F64 goes through F32 first, as PyTorch's casts do
    }

    static double roundToF16(double v) {
        return roundToFormat((float) v, 11, -14, 65504);
    }

    @Test
    void halfCastsRoundToNearestEven() {
        SplittableRandom rnd = new SplittableRandom(5);
        List<Double> vs = new ArrayList<>(List.of(0.0, -0.0, 1.0, 1.00390625, 1.01171875, 1.0078125 + 1e-7, 65504.0,
                65519.99, 65520.0, -65520.0, 1e-8, 6e-8, 5.96e-8, 2.98e-8, 3e-8, 6.1e-5, 3.14159, 3.4e38, 3.39e38,
                1e-39, 1e-45, Double.NaN, Double.POSITIVE_INFINITY, -3.0e-42, 1.0 + 1.0 / 512, 1.0 + 3.0 / 512));
        for (int i = 0; i < 2000; i++) {
            vs.add(Math.scalb(rnd.nextDouble(-2, 2), rnd.nextInt(-30, 20)));
        }
        double[] v = vs.stream().mapToDouble(Double::doubleValue).toArray();
        for (DType src : new DType[] {DType.F32, DType.F64}) {
            Tensor x = Tensor.of(v, v.length).cast(src);
            double[] xs = x.toDoubleArray();
            double[] wantBf16 = new double[v.length];
            double[] wantF16 = new double[v.length];
            for (int i = 0; i < v.length; i++) {
                wantBf16[i] = roundToBf16(xs[i]);
                wantF16[i] = roundToF16(xs[i]);
            }
            TestTensors.assertClose(src + " to BF16", Tensor.of(wantBf16, v.length), x.cast(DType.BF16), 0, 0);
            TestTensors.assertClose(src + " to F16", Tensor.of(wantF16, v.length), x.cast(DType.F16), 0, 0);
        }
        // widening back is exact, and BF16 to F16 goes through F32
        Tensor bf = Tensor.of(v, v.length).cast(DType.BF16);
        TestTensors.assertClose("BF16 to F64", bf.cast(DType.F32), bf.cast(DType.F64), 0, 0);
        double[] bfs = bf.toDoubleArray();
        double[] wantF16 = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            wantF16[i] = roundToF16(bfs[i]);
        }
        TestTensors.assertClose("BF16 to F16", Tensor.of(wantF16, v.length), bf.cast(DType.F16), 0, 0);
    }

    /** 16-bit inputs are widened to F32, computed, and the result rounded once (BF16 sums are exact in F32). */
    @Test
    void halfArithmeticRoundsOnce() {
        SplittableRandom rnd = new SplittableRandom(9);
        for (DType half : new DType[] {DType.BF16, DType.F16}) {
            Tensor a = TestTensors.uniform(rnd, DType.F64, 0.01, 3, 7, 113).cast(half);
            Tensor b = TestTensors.uniform(rnd, DType.F64, 0.01, 3, 113).cast(half);
            Tensor sum = Elementwise.add(a, b);
            Tensor prod = Elementwise.mul(a.transpose(0, 1), Elementwise.exp(b).unsqueeze(1));
            assertEquals(half, sum.dtype());
            double[] av = a.toDoubleArray();
            double[] bv = b.toDoubleArray();
            double[] ev = Elementwise.exp(b).toDoubleArray();
            double[] wantSum = new double[av.length];
            double[] wantProd = new double[av.length];
            for (int i = 0; i < 7; i++) {
                for (int j = 0; j < 113; j++) {
                    double s = av[i * 113 + j] + bv[j];
                    double p = (float) (av[i * 113 + j] * ev[j]);
                    wantSum[i * 113 + j] = half == DType.BF16 ? roundToBf16(s) : roundToF16(s);
                    wantProd[j * 7 + i] = half == DType.BF16 ? roundToBf16(p) : roundToF16(p);
                }
            }
            TestTensors.assertClose(half + " add", Tensor.of(wantSum, 7, 113), sum, 0, 0);
            TestTensors.assertClose(half + " mul transposed", Tensor.of(wantProd, 113, 7), prod, 0, 0);
            // exp of a half rounds the F32 exp once; compare with float64 exp, within half an ulp of the format
            double[] want = new double[bv.length];
            for (int j = 0; j < bv.length; j++) {
                want[j] = Math.exp(bv[j]);
            }
            double rel = half == DType.BF16 ? Math.scalb(1.0, -8) : Math.scalb(1.0, -11);
            TestTensors.assertClose(half + " exp", Tensor.of(want, 113), Elementwise.exp(b), 0, rel * 1.0001);
        }
    }

    @Test
    void assignWritesThroughStridedViewsAndBroadcasts() {
        SplittableRandom rnd = new SplittableRandom(13);
        double[] base = new double[9 * 31];
        Tensor dst = Tensor.of(base.clone(), 9, 31);
        Tensor view = dst.slice(0, 1, -1, 3).slice(1, -20, 31, 4); // rows 1, 4, 7; columns 11, 15, ..., 27
        Tensor src = TestTensors.uniform(rnd, DType.F32, -5, 5, 5); // broadcast over the 3 rows
        Elementwise.assign(view, src);
        double[] want = base.clone();
        double[] s = src.toDoubleArray();
        for (int r = 1; r < 8; r += 3) {
            for (int c = 11, k = 0; c < 31; c += 4, k++) {
                want[r * 31 + c] = s[k];
            }
        }
        TestTensors.assertClose("assign into a stepped slice", Tensor.of(want, 9, 31), dst, 0, 0);
        // copying from a transposed source into a transposed destination, with conversion F64 -> I64
        Tensor from = TestTensors.uniform(rnd, DType.F64, -50, 50, 6, 4);
        Tensor into = Tensor.zeros(Shape.of(4, 6), DType.I64, Device.CPU);
        Elementwise.assign(into.transpose(0, 1), from);
        NDArray wantT = torch(manager, from).transpose(1, 0).toType(DataType.INT64, false);
        assertMatches("assign F64 into transposed I64", wantT, into, 0, 0);
    }

    @Test
    void fillSetsOnlyTheViewAndRoundsToTheDtype() {
        Tensor t = Tensor.of(new float[6 * 7], 6, 7);
        Elementwise.fill(t.slice(0, -4, 6, 2).slice(1, 0, 7, 3), 2.75);
        double[] want = new double[42];
        for (int r = 2; r < 6; r += 2) {
            for (int c = 0; c < 7; c += 3) {
                want[r * 7 + c] = 2.75;
            }
        }
        TestTensors.assertClose("fill a view", Tensor.of(want, 6, 7), t, 0, 0);
        Tensor ones = Elementwise.onesLike(Tensor.zeros(Shape.of(3, 2), DType.I64, Device.CPU));
        assertArrayEquals(new long[] {1, 1, 1, 1, 1, 1}, ones.toLongArray());
        assertEquals(DType.I64, ones.dtype());
        Tensor big = Elementwise.full(Shape.of(2), 1e15 + 3, DType.I64, Device.CPU);
        assertArrayEquals(new long[] {1_000_000_000_000_003L, 1_000_000_000_000_003L}, big.toLongArray());
        Tensor bf = Elementwise.full(Shape.of(3), 0.1, DType.BF16, Device.CPU);
        assertArrayEquals(new double[] {roundToBf16(0.1), roundToBf16(0.1), roundToBf16(0.1)}, bf.toDoubleArray());
        Tensor truncated = Elementwise.full(Shape.of(2), -2.7, DType.I32, Device.CPU);
        assertArrayEquals(new long[] {-2, -2}, truncated.toLongArray());
        Tensor flags = Elementwise.full(Shape.of(2), 1, DType.BOOL, Device.CPU);
        assertArrayEquals(new long[] {1, 1}, flags.toLongArray());
        // any nonzero value is true, as torch.full((2,), 0.5, dtype=torch.bool) and as casting 0.5 to BOOL
        Tensor halfTrue = Elementwise.full(Shape.of(2), 0.5, DType.BOOL, Device.CPU);
        assertArrayEquals(new long[] {1, 1}, halfTrue.toLongArray());
        assertArrayEquals(halfTrue.toLongArray(), Tensor.of(new double[] {0.5, 0.5}, 2).cast(DType.BOOL).toLongArray());
        Tensor scalar = Tensor.zeros(Shape.scalar(), DType.F64, Device.CPU);
        Elementwise.fill(scalar, -4.5);
        assertEquals(-4.5, scalar.item());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // in place

    @Test
    void inPlaceOpsMatchTorch() {
        SplittableRandom rnd = new SplittableRandom(17);
        Tensor dst = TestTensors.uniform(rnd, DType.F32, -3, 3, 3, 4, 5);
        Tensor src = TestTensors.uniform(rnd, DType.F32, -3, 3, 4, 1);
        NDArray want = torch(manager, dst).mul(torch(manager, src)).add(2.5f);
        Elementwise.binaryInPlace(BinaryOp.MUL, dst, src);
        Elementwise.unaryInPlace(UnaryOp.ADD_SCALAR, dst, 2.5);
        assertMatches("in-place mul then add", want, dst, F32_ATOL, F32_RTOL);
        Tensor small = Tensor.zeros(Shape.of(4, 1), DType.F32, Device.CPU);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Elementwise.binaryInPlace(BinaryOp.ADD, small, dst));
        assertTrue(e.getMessage().contains("(4, 1)") && e.getMessage().contains("(3, 4, 5)"), e.getMessage());
        Tensor strided = Tensor.zeros(Shape.of(4, 6), DType.F32, Device.CPU).transpose(0, 1);
        e = assertThrows(IllegalArgumentException.class, () -> Elementwise.unaryInPlace(UnaryOp.NEG, strided, 0));
        assertTrue(e.getMessage().contains("contiguous"), e.getMessage());
    }
}
