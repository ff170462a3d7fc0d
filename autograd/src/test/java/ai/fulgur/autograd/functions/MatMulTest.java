package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link MatMul} with torch.matmul's shape rules: vector·vector, vector·matrix, matrix·vector, matrix·matrix, batched,
 * broadcast batches (the gradient of the broadcast operand summed over them) and vectors against batches.
 */
class MatMulTest {

    static Stream<Arguments> shapes() {
        return Stream.of(
                Arguments.of(new long[] {5}, new long[] {5}),
                Arguments.of(new long[] {5}, new long[] {5, 3}),
                Arguments.of(new long[] {3, 5}, new long[] {5}),
                Arguments.of(new long[] {3, 5}, new long[] {5, 4}),
                Arguments.of(new long[] {2, 3, 5}, new long[] {2, 5, 4}),
                Arguments.of(new long[] {2, 3, 5}, new long[] {5, 4}),
                Arguments.of(new long[] {3, 5}, new long[] {2, 5, 4}),
                Arguments.of(new long[] {2, 1, 3, 5}, new long[] {3, 5, 4}),
                Arguments.of(new long[] {5}, new long[] {2, 5, 4}),
                Arguments.of(new long[] {2, 3, 5}, new long[] {5}));
    }

    @ParameterizedTest(name = "{0} x {1}")
    @MethodSource("shapes")
    void gradientsMatchCentralDifferencesAndTorch(long[] aShape, long[] bShape) {
        SplittableRandom rnd = new SplittableRandom(aShape.length * 10L + bShape.length);
        Tensor a = OpCheck.normal(rnd, aShape);
        Tensor b = OpCheck.normal(rnd, bShape);
        OpCheck.both("matmul " + a.shape() + " x " + b.shape(), xs -> MatMul.apply(xs.get(0), xs.get(1)),
                (m, xs) -> xs.get(0).matMul(xs.get(1)), a, b);
    }

    @ParameterizedTest(name = "{0} x {1}")
    @MethodSource("shapes")
    void oneOperandConstant(long[] aShape, long[] bShape) {
        SplittableRandom rnd = new SplittableRandom(7);
        Tensor a = OpCheck.normal(rnd, aShape);
        Tensor b = OpCheck.normal(rnd, bShape);
        OpCheck.gradCheck("matmul (b constant)", xs -> MatMul.apply(xs.get(0), Variable.constant(b)), a);
        OpCheck.gradCheck("matmul (a constant)", xs -> MatMul.apply(Variable.constant(a), xs.get(0)), b);
    }
}
