package ai.fulgur.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.autograd.functions.Arithmetic;
import ai.fulgur.autograd.functions.MaxReduce;
import ai.fulgur.autograd.functions.Softmax;
import ai.fulgur.autograd.functions.UnaryMath;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.BinaryOp;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.elementwise.UnaryOp;
import ai.fulgur.ops.testing.TestTensors;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The tape: accumulation where a variable is used more than once and across backward calls, zeroGrad, seeds, errors
 * for misuse (non-scalar output, nothing to differentiate, a freed graph, a tensor modified in place), no-grad scopes,
 * detach, and a chain deep enough to overflow a recursive walk.
 */
class TapeTest {
    private final SplittableRandom rnd = new SplittableRandom(42);

    private Tensor randn(long... shape) {
        return TestTensors.normal(rnd, DType.F64, shape);
    }

    private static double[] values(Tensor t) {
        return t.toDoubleArray();
    }

    private static Variable exp(Variable x) {
        return UnaryMath.apply(UnaryOp.EXP, x);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // accumulation

    @Test
    void variableUsedTwiceInMul() {
        Tensor xv = randn(3, 5);
        Variable x = Variable.parameter(xv);
        x.mul(x).sum().backward();
        assertArrayEquals(values(Elementwise.mulScalar(xv, 2)), values(x.grad()), 1e-15, "d(x·x)/dx = 2x");
    }

    @Test
    void variableUsedTwiceInAdd() {
        Variable x = Variable.parameter(randn(3, 5));
        x.add(x).sum().backward();
        assertArrayEquals(filled(15, 2), values(x.grad()), 0, "d(x + x)/dx = 2");
    }

    @Test
    void diamondGraph() {
        // a = 2x and b = exp(x) both feed c = a·b, and a also feeds d = c + a: dd/dx = 2·exp(x) + 2x·exp(x) + 2
        double[] xv = values(randn(7));
        Variable x = Variable.parameter(Tensor.of(xv.clone(), 7));
        Variable a = UnaryMath.apply(UnaryOp.MUL_SCALAR, x, 2);
        Variable b = exp(x);
        Variable d = a.mul(b).add(a);
        d.sum().backward();
        double[] expected = new double[7];
        for (int i = 0; i < 7; i++) {
            expected[i] = 2 * Math.exp(xv[i]) + 2 * xv[i] * Math.exp(xv[i]) + 2;
        }
        assertArrayEquals(expected, values(x.grad()), 1e-12);
        assertNull(a.grad(), "results of ops pass gradients on, only leaves keep them");
        GradCheck.check("diamond", xs -> {
            Variable a2 = UnaryMath.apply(UnaryOp.MUL_SCALAR, xs.get(0), 2);
            return a2.mul(exp(xs.get(0))).add(a2);
        }, List.of(Tensor.of(xv, 7)));
    }

    @Test
    void gradientsAccumulateAcrossBackwardCalls() {
        Tensor xv = randn(3, 5);
        Variable x = Variable.parameter(xv);
        exp(x).sum().backward();
        exp(x).sum().backward();
        assertArrayEquals(values(Elementwise.mulScalar(Elementwise.exp(xv), 2)), values(x.grad()), 1e-14);
    }

    @Test
    void zeroGradResetsInPlace() {
        Variable x = Variable.parameter(randn(3, 5));
        x.mul(x).sum().backward();
        Tensor grad = x.grad();
        x.zeroGrad();
        assertSame(grad, x.grad(), "zeroGrad keeps the gradient tensor");
        assertArrayEquals(new double[15], values(x.grad()), 0);
        x.sum().backward();
        assertArrayEquals(filled(15, 1), values(x.grad()), 0, "after zeroGrad only the new contribution remains");
    }

    /**
     * zeroGrad defers its fill: the first contribution after it overwrites the stale values in the kept tensor (in
     * the variable's dtype, from an F32 contribution to an F64 leaf too), later ones add, and a leaf that no pass
     * reached reads zeros.
     */
    @Test
    void theFirstContributionAfterZeroGradOverwritesAndLaterOnesAdd() {
        Variable x = Variable.parameter(randn(3, 5));
        Variable unused = Variable.parameter(randn(2));
        x.mul(x).sum().backward();
        unused.sum().backward();
        Tensor grad = x.grad();
        x.zeroGrad();
        unused.zeroGrad();
        // two contributions in one pass (x used twice), then a second pass
        x.add(x).sum().backward();
        assertSame(grad, x.grad(), "the gradient tensor is kept");
        assertArrayEquals(filled(15, 2), values(x.grad()), 0, "overwritten by the pass, not added to the old values");
        x.sum().backward();
        assertArrayEquals(filled(15, 3), values(x.grad()), 0, "a later pass accumulates");
        assertArrayEquals(new double[2], values(unused.grad()), 0, "no contribution since zeroGrad: zeros");
        // a contribution of another dtype (F32 into an F64 leaf) is converted by the overwrite
        x.zeroGrad();
        x.backward(ai.fulgur.ops.elementwise.Elementwise.onesLike(x.data()).cast(DType.F32));
        assertSame(DType.F64, x.grad().dtype());
        assertArrayEquals(filled(15, 1), values(x.grad()), 0);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // seeds and misuse

    @Test
    void nonScalarBackwardWithoutGradientNamesTheShape() {
        Variable y = exp(Variable.parameter(randn(3, 5)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, y::backward);
        assertTrue(e.getMessage().contains(Shape.of(3, 5).toString()), e.getMessage());
    }

    @Test
    void nonScalarBackwardWithGradient() {
        Variable x = Variable.parameter(randn(3, 5));
        Tensor seed = randn(3, 5);
        UnaryMath.apply(UnaryOp.MUL_SCALAR, x, 3).backward(seed);
        assertArrayEquals(values(Elementwise.mulScalar(seed, 3)), values(x.grad()), 1e-15);
    }

    @Test
    void gradientOfTheWrongShapeIsRejected() {
        Variable y = exp(Variable.parameter(randn(3, 5)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> y.backward(randn(5, 3)));
        assertTrue(e.getMessage().contains(Shape.of(3, 5).toString()), e.getMessage());
    }

    @Test
    void backwardOnAVariableThatNeedsNoGradient() {
        Variable c = Variable.constant(randn(3));
        assertThrows(IllegalStateException.class, () -> c.sum().backward());
        assertThrows(IllegalStateException.class, () -> exp(c).backward(randn(3)));
    }

    @Test
    void integerTensorsCannotRequireGradients() {
        Tensor ids = Tensor.of(new long[] {1, 2, 3}, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Variable.constant(ids).setRequiresGrad(true));
        assertTrue(e.getMessage().contains("I64"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Variable.parameter(ids));
        assertThrows(IllegalArgumentException.class,
                () -> Variable.constant(Elementwise.unary(UnaryOp.GT_SCALAR, randn(3), 0)).setRequiresGrad(true));
    }

    @Test
    void setRequiresGradFalseOnAResultIsRejected() {
        Variable y = exp(Variable.parameter(randn(3)));
        assertThrows(IllegalStateException.class, () -> y.setRequiresGrad(false));
    }

    @Test
    void backwardOnALeaf() {
        Variable x = Variable.parameter(randn(3));
        Tensor seed = randn(3);
        x.backward(seed);
        assertArrayEquals(values(seed), values(x.grad()), 0);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // grad mode, detach

    @Test
    void noGradScopeRecordsNothingAndRestores() {
        Variable x = Variable.parameter(randn(3, 5));
        assertTrue(GradMode.isEnabled());
        try (var outer = GradMode.disable()) {
            Variable y = exp(x).mul(x).sum();
            assertTrue(y.isLeaf() && !y.requiresGrad(), "nothing is recorded with grad mode off");
            try (var inner = GradMode.set(true)) {
                assertTrue(exp(x).requiresGrad(), "a nested enabled scope records");
            }
            assertFalse(GradMode.isEnabled(), "closing the inner scope restores 'off'");
            try (var again = GradMode.disable()) {
                assertFalse(GradMode.isEnabled());
            }
            assertFalse(GradMode.isEnabled());
        }
        assertTrue(GradMode.isEnabled(), "closing the outer scope restores 'on'");
        assertTrue(exp(x).requiresGrad());
    }

    @Test
    void noGradScopeRestoresAfterAnException() {
        assertThrows(IllegalStateException.class, () -> {
            try (var scope = GradMode.disable()) {
                throw new IllegalStateException("boom");
            }
        });
        assertTrue(GradMode.isEnabled());
    }

    @Test
    void detachCutsTheGraph() {
        Tensor xv = randn(3, 5);
        Variable x = Variable.parameter(xv);
        Variable y = x.mul(x);
        Variable cut = y.detach();
        assertTrue(cut.isLeaf() && !cut.requiresGrad());
        assertSame(y.data(), cut.data(), "detach shares the data");
        cut.mul(x).sum().backward();
        // only the direct path through x counts: d(stop(x²)·x)/dx = x², not 3x²
        assertArrayEquals(values(y.data()), values(x.grad()), 1e-15);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // freed graphs, in-place modification

    @Test
    void secondBackwardWithoutRetainGraphFails() {
        Variable x = Variable.parameter(randn(3, 5));
        Variable loss = exp(x).mul(x).sum();
        loss.backward();
        IllegalStateException e = assertThrows(IllegalStateException.class, loss::backward);
        assertTrue(e.getMessage().contains("retainGraph"), e.getMessage());
    }

    @Test
    void sharedSubgraphFreedByAnEarlierBackwardFails() {
        Variable x = Variable.parameter(randn(3));
        Variable y = exp(x);
        y.sum().backward();
        assertThrows(IllegalStateException.class, () -> y.mul(y).sum().backward());
    }

    @Test
    void retainGraphAllowsASecondBackwardThatAccumulates() {
        Tensor xv = randn(3, 5);
        Variable x = Variable.parameter(xv);
        Variable loss = exp(x).mul(x).sum();
        Tensor one = Tensor.scalar(1, DType.F64, x.device());
        loss.backward(one, true);
        double[] first = values(x.grad());
        loss.backward(one, true);
        loss.backward(one); // the last one may free the graph
        double[] x0 = values(xv);
        for (int i = 0; i < first.length; i++) {
            assertEquals(Math.exp(x0[i]) * (1 + x0[i]), first[i], 1e-12);
        }
        assertArrayEquals(values(Elementwise.mulScalar(Tensor.of(first, 3, 5), 3)), values(x.grad()), 1e-12);
        assertThrows(IllegalStateException.class, loss::backward);
    }

    @Test
    void inPlaceChangeOfASavedInputFails() {
        Variable x = Variable.parameter(randn(3, 5));
        Variable w = Variable.parameter(randn(3, 5));
        Variable loss = x.mul(w).sum();
        Elementwise.unaryInPlace(UnaryOp.MUL_SCALAR, w.data(), 0.5); // an optimizer step, say
        w.bumpVersion();
        IllegalStateException e = assertThrows(IllegalStateException.class, loss::backward);
        assertTrue(e.getMessage().contains("version 0 -> 1"), e.getMessage());
        assertTrue(e.getMessage().contains("modified in place"), e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"exp", "softmax", "maximum", "amax keepDims"})
    void inPlaceChangeOfASavedOutputFails(String op) {
        // these ops compute their gradient from their output; changing it in place would silently corrupt it
        Variable x = Variable.parameter(randn(3, 5));
        Variable y = switch (op) {
            case "exp" -> exp(x);
            case "softmax" -> Softmax.apply(x, -1, false);
            case "maximum" -> Arithmetic.binary(BinaryOp.MAX, x, Variable.constant(randn(3, 5)));
            default -> MaxReduce.apply(x, new int[] {1}, true, true);
        };
        Variable loss = y.sum(); // sum saves nothing, so only the op under test can notice
        Elementwise.unaryInPlace(UnaryOp.MUL_SCALAR, y.data(), 2);
        y.bumpVersion();
        IllegalStateException e = assertThrows(IllegalStateException.class, loss::backward, op);
        assertTrue(e.getMessage().contains("version 0 -> 1"), e.getMessage());
    }

    @Test
    void unmodifiedSaveStillWorksAfterUnrelatedBump() {
        Variable x = Variable.parameter(randn(3));
        Variable other = Variable.parameter(randn(3));
        Variable loss = exp(x).sum();
        other.bumpVersion();
        loss.backward();
        assertEquals(3, x.grad().numel());
    }

    @Test
    void deepChainDoesNotOverflowTheStack() {
        // 10,000 ops: a recursive topological sort would need 10,000 frames
        Variable x = Variable.parameter(Tensor.of(new double[] {1, 2, 3}, 3));
        Variable y = x;
        int n = 10_000;
        double s = 1.0001;
        for (int i = 0; i < n; i++) {
            y = UnaryMath.apply(UnaryOp.MUL_SCALAR, y, s);
        }
        y.sum().backward();
        double expected = Math.pow(s, n); // about e
        assertArrayEquals(filled(3, expected), values(x.grad()), 1e-9 * expected);
    }

    private static double[] filled(int n, double v) {
        double[] out = new double[n];
        java.util.Arrays.fill(out, v);
        return out;
    }
}
