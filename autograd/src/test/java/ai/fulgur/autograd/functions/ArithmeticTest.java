package ai.fulgur.autograd.functions;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.BinaryOp;
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
 * {@link Arithmetic}: every differentiable binary op, on equal shapes and broadcast ones (each gradient summed back to
 * its input's shape), against central differences and PyTorch; ties of max/min split the gradient evenly.
 */
class ArithmeticTest {
    private static final BinaryOp[] DIFFERENTIABLE = {
        BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.DIV, BinaryOp.POW, BinaryOp.MAX, BinaryOp.MIN};

    /** (a shape, b shape): equal, b broadcast, a broadcast, both broadcast, a rank-0 operand. */
    private static final long[][][] SHAPES = {
        {{3, 5}, {3, 5}},
        {{2, 3, 7}, {3, 1}},
        {{7}, {2, 3, 7}},
        {{1, 5}, {3, 1}},
        {{}, {3, 5}},
    };

    static Stream<Arguments> opsAndShapes() {
        List<Arguments> cases = new ArrayList<>();
        for (BinaryOp op : DIFFERENTIABLE) {
            for (long[][] s : SHAPES) {
                cases.add(Arguments.of(op, s[0], s[1]));
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} {1} with {2}")
    @MethodSource("opsAndShapes")
    void gradientsMatchCentralDifferencesAndTorch(BinaryOp op, long[] aShape, long[] bShape) {
        SplittableRandom rnd = new SplittableRandom(op.ordinal() * 31L + aShape.length * 7L + bShape.length);
        // pow needs a positive base; div a divisor away from 0
        Tensor a = op == BinaryOp.POW ? OpCheck.uniform(rnd, 0.5, 2, aShape) : OpCheck.normal(rnd, aShape);
        Tensor b = op == BinaryOp.DIV ? OpCheck.awayFromZero(rnd, bShape) : OpCheck.normal(rnd, bShape);
        OpCheck.both(op + " " + a.shape() + " " + b.shape(), xs -> Arithmetic.binary(op, xs.get(0), xs.get(1)),
                (m, xs) -> torch(op, xs.get(0), xs.get(1)), a, b);
    }

    @ParameterizedTest
    @EnumSource(value = BinaryOp.class, names = {"MAX", "MIN"})
    void tiesSplitTheGradientEvenly(BinaryOp op) {
        // a and b equal in every other element; central differences at a tie give ½ to each side, as PyTorch does
        SplittableRandom rnd = new SplittableRandom(5);
        double[] av = OpCheck.normal(rnd, 3, 5).toDoubleArray();
        double[] bv = OpCheck.normal(rnd, 3, 5).toDoubleArray();
        for (int i = 0; i < av.length; i += 2) {
            bv[i] = av[i];
        }
        Tensor a = Tensor.of(av, 3, 5);
        Tensor b = Tensor.of(bv, 3, 5);
        OpCheck.both(op + " with ties", xs -> Arithmetic.binary(op, xs.get(0), xs.get(1)),
                (m, xs) -> torch(op, xs.get(0), xs.get(1)), a, b);

        Variable pa = Variable.parameter(a);
        Variable pb = Variable.parameter(b);
        Arithmetic.binary(op, pa, pb).sum().backward();
        double[] ga = pa.grad().toDoubleArray();
        double[] gb = pb.grad().toDoubleArray();
        for (int i = 0; i < av.length; i++) {
            double expectedA = i % 2 == 0 ? 0.5 : (op == BinaryOp.MAX) == (av[i] > bv[i]) ? 1 : 0;
            assertArrayEquals(new double[] {expectedA, 1 - expectedA}, new double[] {ga[i], gb[i]}, 0,
                    op + " element " + i + ": a " + av[i] + ", b " + bv[i]);
        }
    }

    @ParameterizedTest
    @EnumSource(value = BinaryOp.class, names = {"ADD", "SUB", "MUL", "DIV", "POW", "MAX", "MIN"})
    void onlyTheInputThatRequiresGradGetsOne(BinaryOp op) {
        SplittableRandom rnd = new SplittableRandom(11);
        Tensor a = OpCheck.uniform(rnd, 0.5, 2, 2, 3, 7);
        Tensor b = OpCheck.uniform(rnd, 0.5, 2, 3, 1);
        // b is a constant captured by the function: only a is differentiated
        OpCheck.gradCheck(op + " (b constant)", xs -> Arithmetic.binary(op, xs.get(0), Variable.constant(b)), a);
        OpCheck.gradCheck(op + " (a constant)", xs -> Arithmetic.binary(op, Variable.constant(a), xs.get(0)), b);

        Variable constant = Variable.constant(b);
        Variable pa = Variable.parameter(a);
        Arithmetic.binary(op, pa, constant).sum().backward();
        assertNull(constant.grad(), op + ": a constant must not receive a gradient");
    }

    @ParameterizedTest
    @EnumSource(value = BinaryOp.class, names = {"EQ", "NE", "LT", "LE", "GT", "GE", "LOGICAL_AND", "MOD"})
    void comparisonsAndModAreConstants(BinaryOp op) {
        SplittableRandom rnd = new SplittableRandom(3);
        Variable a = Variable.parameter(OpCheck.uniform(rnd, 0.5, 2, 3, 5));
        Variable b = Variable.parameter(OpCheck.uniform(rnd, 0.5, 2, 3, 5));
        Variable out = Arithmetic.binary(op, a, b);
        assertTrue(out.isLeaf(), op + " must not record a graph");
        assertFalse(out.requiresGrad(), op + " must not require a gradient");
        if (op != BinaryOp.MOD) {
            assertTrue(out.dtype() == DType.BOOL, op + " must give BOOL, got " + out.dtype());
        }
    }

    private static NDArray torch(BinaryOp op, NDArray a, NDArray b) {
        return switch (op) {
            case ADD -> a.add(b);
            case SUB -> a.sub(b);
            case MUL -> a.mul(b);
            case DIV -> a.div(b);
            case POW -> a.pow(b);
            case MAX -> a.maximum(b);
            case MIN -> a.minimum(b);
            default -> throw new IllegalArgumentException(op + " has no gradient");
        };
    }
}
