package ai.fulgur.autograd.functions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.nn.Activation;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.UnaryOp;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link UnaryMath}: every differentiable unary op, the scalar-parameter forms included, against central differences
 * and PyTorch. Inputs stay away from each op's kinks, poles and domain edges (a fixed seed keeps them there), so both
 * sides are differentiable where they are compared. Piecewise-constant ops (sign, floor, ceil, round) have a zero
 * gradient, as in PyTorch.
 */
class UnaryMathTest {
    /** The scalar s of each {@code *_SCALAR} op; chosen so that none sits on a kink of the random inputs. */
    private static double scalarOf(UnaryOp op) {
        return switch (op) {
            case ADD_SCALAR -> 1.7;
            case MUL_SCALAR -> -2.3;
            case RSUB_SCALAR -> 0.4;
            case RDIV_SCALAR -> 1.9;
            case POW_SCALAR -> 2.6;
            case RPOW_SCALAR -> 2.5;
            case MAX_SCALAR -> 0.3;
            case MIN_SCALAR -> -0.2;
            default -> 0;
        };
    }

    private static final UnaryOp[] DIFFERENTIABLE = {
        UnaryOp.NEG, UnaryOp.ABS, UnaryOp.SIGN, UnaryOp.EXP, UnaryOp.LOG, UnaryOp.LOG1P, UnaryOp.EXPM1, UnaryOp.SQRT,
        UnaryOp.RSQRT, UnaryOp.SQUARE, UnaryOp.RECIPROCAL, UnaryOp.TANH, UnaryOp.SIGMOID, UnaryOp.RELU, UnaryOp.ERF,
        UnaryOp.SIN, UnaryOp.COS, UnaryOp.FLOOR, UnaryOp.CEIL, UnaryOp.ROUND, UnaryOp.ADD_SCALAR, UnaryOp.MUL_SCALAR,
        UnaryOp.RSUB_SCALAR, UnaryOp.RDIV_SCALAR, UnaryOp.POW_SCALAR, UnaryOp.RPOW_SCALAR, UnaryOp.MAX_SCALAR,
        UnaryOp.MIN_SCALAR};

    private static final long[][] SHAPES = {{3, 5}, {2, 3, 7}};

    static Stream<Arguments> opsAndShapes() {
        List<Arguments> cases = new ArrayList<>();
        for (UnaryOp op : DIFFERENTIABLE) {
            for (long[] s : SHAPES) {
                cases.add(Arguments.of(op, s));
            }
        }
        return cases.stream();
    }

    @Test
    void everyNonComparisonOpIsCovered() {
        // a new UnaryOp must get a case here (or be declared a comparison)
        for (UnaryOp op : UnaryOp.values()) {
            assertTrue(op.isComparison() || List.of(DIFFERENTIABLE).contains(op), op + " has no gradient test");
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("opsAndShapes")
    void gradientMatchesCentralDifferencesAndTorch(UnaryOp op, long[] shape) {
        SplittableRandom rnd = new SplittableRandom(op.ordinal() * 17L + shape.length);
        double s = scalarOf(op);
        Tensor x = input(op, rnd, shape);
        OpCheck.both(op + (s != 0 ? "(s=" + s + ")" : "") + " " + x.shape(), xs -> UnaryMath.apply(op, xs.get(0), s),
                (m, xs) -> torch(op, xs.get(0), s), x);
    }

    @ParameterizedTest
    @EnumSource(value = UnaryOp.class, names = {"LOGICAL_NOT", "EQ_SCALAR", "NE_SCALAR", "LT_SCALAR", "LE_SCALAR",
        "GT_SCALAR", "GE_SCALAR"})
    void comparisonsAreConstants(UnaryOp op) {
        Variable x = Variable.parameter(OpCheck.normal(new SplittableRandom(1), 3, 5));
        Variable out = UnaryMath.apply(op, x, 0.1);
        assertTrue(out.isLeaf() && !out.requiresGrad(), op + " must not record a graph");
        assertEquals(DType.BOOL, out.dtype(), op.toString());
    }

    @Test
    void reluGradientAtZeroIsZero() {
        // PyTorch's convention for the kink; central differences would give ½ there, so this is checked directly
        Variable x = Variable.parameter(Tensor.of(new double[] {-1, 0, 2}, 3));
        UnaryMath.apply(UnaryOp.RELU, x).sum().backward();
        assertEquals(List.of(0.0, 0.0, 1.0), toList(x.grad()));
        assertFalse(x.grad() == null);
    }

    /** Inputs inside each op's domain and away from its kinks. */
    private static Tensor input(UnaryOp op, SplittableRandom rnd, long[] shape) {
        return switch (op) {
            case LOG, LOG1P, SQRT, RSQRT, POW_SCALAR -> OpCheck.uniform(rnd, 0.5, 2, shape);
            case ABS, SIGN, RELU, RECIPROCAL, RDIV_SCALAR -> OpCheck.awayFromZero(rnd, shape);
            // floor, ceil, round jump at integers and half-integers: keep inputs in between
            case FLOOR, CEIL, ROUND -> {
                double[] v = OpCheck.uniform(rnd, 0.1, 0.4, shape).toDoubleArray();
                for (int i = 0; i < v.length; i++) {
                    v[i] += rnd.nextInt(-3, 3);
                }
                yield Tensor.of(v, shape);
            }
            default -> OpCheck.normal(rnd, shape);
        };
    }

    private static NDArray torch(UnaryOp op, NDArray x, double s) {
        return switch (op) {
            case NEG -> x.neg();
            case ABS -> x.abs();
            case SIGN -> x.sign();
            case EXP -> x.exp();
            case LOG -> x.log();
            case LOG1P -> x.add(1).log();           // DJL has no log1p; the composite has the same gradient
            case EXPM1 -> x.exp().sub(1);           // nor expm1
            case SQRT -> x.sqrt();
            case RSQRT -> x.pow(-0.5);              // nor rsqrt
            case SQUARE -> x.square();
            case RECIPROCAL -> NDArrays.div(1, x);  // nor reciprocal
            case TANH -> x.tanh();
            case SIGMOID -> Activation.sigmoid(x);
            case RELU -> Activation.relu(x);
            case ERF -> x.erf();
            case SIN -> x.sin();
            case COS -> x.cos();
            case FLOOR -> x.floor();
            case CEIL -> x.ceil();
            case ROUND -> x.round();
            case ADD_SCALAR -> x.add(s);
            case MUL_SCALAR -> x.mul(s);
            case RSUB_SCALAR -> NDArrays.sub(s, x);
            case RDIV_SCALAR -> NDArrays.div(s, x);
            case POW_SCALAR -> x.pow(s);
            case RPOW_SCALAR -> NDArrays.pow(s, x);
            case MAX_SCALAR -> x.maximum(s);
            case MIN_SCALAR -> x.minimum(s);
            default -> throw new IllegalArgumentException(op + " has no gradient");
        };
    }

    private static List<Double> toList(Tensor t) {
        List<Double> out = new ArrayList<>();
        for (double v : t.toDoubleArray()) {
            out.add(v);
        }
        return out;
    }
}
