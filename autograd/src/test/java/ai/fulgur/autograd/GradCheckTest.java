package ai.fulgur.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.autograd.functions.Transpose;
import ai.fulgur.autograd.functions.UnaryMath;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.elementwise.UnaryOp;
import ai.fulgur.ops.testing.TestTensors;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link GradCheck} itself: it passes correct gradients and names the input, element and values of wrong ones. */
class GradCheckTest {
    private final SplittableRandom rnd = new SplittableRandom(1);

    /** x² with a wrong derivative 3x (an injected bug). */
    private static final class WrongSquare extends Function {
        static Variable apply(Variable x) {
            WrongSquare fn = new WrongSquare();
            Variable y = fn.record(Elementwise.mul(x.data(), x.data()), x);
            if (!y.isLeaf()) {
                fn.saveForBackward(x);
            }
            return y;
        }

        @Override
        protected Tensor[] backward(Tensor g) {
            return new Tensor[] {Elementwise.mul(g, Elementwise.mulScalar(saved(0), 3))};
        }
    }

    /** A transpose whose backward reshapes instead of transposing: right element count, wrong order. */
    private static final class ScrambledTranspose extends Function {
        static Variable apply(Variable x) {
            return new ScrambledTranspose().record(x.data().transpose(0, 1).contiguous(), x);
        }

        @Override
        protected Tensor[] backward(Tensor g) {
            return new Tensor[] {g.contiguous().reshape(inputShape(0))};
        }
    }

    @Test
    void passesCorrectGradients() {
        Tensor x = TestTensors.normal(rnd, DType.F64, 3, 5);
        Tensor y = TestTensors.normal(rnd, DType.F64, 3, 5);
        GradCheck.check("tanh(x)·y", xs -> UnaryMath.apply(UnaryOp.TANH, xs.get(0)).mul(xs.get(1)), List.of(x, y));
        GradCheck.check("transpose", xs -> Transpose.apply(xs.get(0), 0, 1), List.of(x));
    }

    @Test
    void failureNamesFunctionInputElementValuesAndTolerance() {
        Tensor x = TestTensors.normal(rnd, DType.F64, 2, 3);
        Tensor w = TestTensors.normal(rnd, DType.F64, 2, 3);
        AssertionError e = assertThrows(AssertionError.class, () -> GradCheck.check("wrongSquare",
                xs -> xs.get(0).mul(WrongSquare.apply(xs.get(1))), List.of(x, w)));
        String m = e.getMessage();
        for (String part : new String[] {"wrongSquare", "input 1", "element 0 [0, 0]", "analytic", "numeric", "atol",
            "rtol"}) {
            assertTrue(m.contains(part), "message lacks '" + part + "': " + m);
        }
        assertTrue(m.contains("6 of 6 elements differ"), m);
    }

    @Test
    void randomProjectionCatchesScrambledGradients() {
        // with a plain sum (every output gradient 1) the scrambled backward would pass; R tells the elements apart
        Tensor x = TestTensors.normal(rnd, DType.F64, 3, 5);
        assertThrows(AssertionError.class,
                () -> GradCheck.check("scrambledTranspose", xs -> ScrambledTranspose.apply(xs.get(0)), List.of(x)));
        GradCheck.check("scrambledTranspose summed", xs -> ScrambledTranspose.apply(xs.get(0)).sum(), List.of(x));
    }

    @Test
    void rejectsNonF64Inputs() {
        Tensor x = TestTensors.normal(rnd, DType.F32, 3, 5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GradCheck.check("f32", xs -> xs.get(0).sum(), List.of(x)));
        assertTrue(e.getMessage().contains("input 0") && e.getMessage().contains("F32"), e.getMessage());
    }

    @Test
    void rejectsOutputsWithoutGraph() {
        Tensor x = TestTensors.normal(rnd, DType.F64, 3);
        AssertionError e = assertThrows(AssertionError.class,
                () -> GradCheck.check("constant", xs -> Variable.constant(Tensor.of(new double[] {1}, 1)), List.of(x)));
        assertTrue(e.getMessage().contains("does not require a gradient"), e.getMessage());
    }

    @Test
    void leavesInputsUnchangedAndWorksInsideNoGrad() {
        Tensor x = TestTensors.normal(rnd, DType.F64, 4);
        double[] before = x.toDoubleArray();
        try (var scope = GradMode.disable()) {
            GradCheck.check("exp", xs -> UnaryMath.apply(UnaryOp.EXP, xs.get(0)), List.of(x));
            assertTrue(!GradMode.isEnabled(), "the caller's grad mode is restored");
        }
        assertArrayEquals(before, x.toDoubleArray(), 0);
    }
}
