package ai.fulgur.autograd.functions;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link Sum}: sum and mean over all axes, one axis, several axes and negative axes, with and without keepDims. */
class SumTest {
    /** Axes of a (2, 3, 7) input; the empty set means all axes. */
    private static final int[][] AXES = {{}, {0}, {1}, {-1}, {0, 2}, {2, 0}, {0, 1, 2}};

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (boolean mean : new boolean[] {false, true}) {
            for (int[] axes : AXES) {
                for (boolean keepDims : new boolean[] {false, true}) {
                    cases.add(Arguments.of(mean, axes, keepDims));
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "mean={0} axes={1} keepDims={2}")
    @MethodSource("cases")
    void gradientMatchesCentralDifferencesAndTorch(boolean mean, int[] axes, boolean keepDims) {
        Tensor x = OpCheck.normal(new SplittableRandom(Arrays.hashCode(axes)), 2, 3, 7);
        String name = (mean ? "mean" : "sum") + Arrays.toString(axes) + (keepDims ? " keepDims" : "");
        OpCheck.both(name, xs -> Sum.apply(xs.get(0), axes, keepDims, mean),
                (m, xs) -> torch(xs.get(0), axes, keepDims, mean), x);
    }

    @Test
    void variableShortcutsSumAndMeanEverything() {
        Tensor x = OpCheck.normal(new SplittableRandom(2), 3, 5);
        OpCheck.both("Variable.sum", xs -> xs.get(0).sum(), (m, xs) -> xs.get(0).sum(), x);
        OpCheck.both("Variable.mean", xs -> xs.get(0).mean(), (m, xs) -> xs.get(0).mean(), x);
    }

    @Test
    void integerSumIsAConstant() {
        Variable x = Variable.constant(Tensor.of(new long[] {1, 2, 3}, 3));
        Variable s = Sum.apply(x, new int[0], false, false);
        assertTrue(s.isLeaf() && !s.requiresGrad());
    }

    private static NDArray torch(NDArray x, int[] axes, boolean keepDims, boolean mean) {
        int[] all = axes.length == 0 ? new int[] {0, 1, 2} : axes;
        if (!mean) {
            return x.sum(all, keepDims);
        }
        if (all.length == 1) {
            return x.mean(all, keepDims);
        }
        // DJL's PyTorch mean takes one axis: divide the sum by the count instead
        long count = Arrays.stream(all).mapToLong(a -> x.getShape().get(a < 0 ? a + 3 : a)).reduce(1, (p, q) -> p * q);
        return x.sum(all, keepDims).div(count);
    }
}
