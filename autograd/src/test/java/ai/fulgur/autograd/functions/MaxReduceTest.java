package ai.fulgur.autograd.functions;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

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

/**
 * {@link MaxReduce}: max and min over axes, with and without keepDims; the gradient reaches only the selected elements
 * and is split evenly between ties (PyTorch's amax/amin).
 */
class MaxReduceTest {
    /** Axes of a (2, 3, 7) input; the empty set means all axes. */
    private static final int[][] AXES = {{}, {0}, {1}, {-1}, {0, 2}};

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (boolean max : new boolean[] {true, false}) {
            for (int[] axes : AXES) {
                for (boolean keepDims : new boolean[] {false, true}) {
                    cases.add(Arguments.of(max, axes, keepDims));
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "max={0} axes={1} keepDims={2}")
    @MethodSource("cases")
    void gradientMatchesCentralDifferencesAndTorch(boolean max, int[] axes, boolean keepDims) {
        Tensor x = OpCheck.normal(new SplittableRandom(Arrays.hashCode(axes) + (max ? 1 : 0)), 2, 3, 7);
        String name = (max ? "max" : "min") + Arrays.toString(axes) + (keepDims ? " keepDims" : "");
        OpCheck.both(name, xs -> MaxReduce.apply(xs.get(0), axes, keepDims, max),
                (m, xs) -> torch(xs.get(0), axes, keepDims, max), x);
    }

    @Test
    void twoWayTiesMatchCentralDifferences() {
        // max(a + eps, a) − max(a − eps, a) = eps: central differences give ½ to each of two tied elements
        double[] v = {0.3, 1.2, -0.5, 1.2, 0.1, -2, 0.7, -2, 0.4, 0.6};
        Tensor x = Tensor.of(v, 2, 5);
        OpCheck.gradCheck("max with ties", xs -> MaxReduce.apply(xs.get(0), new int[] {1}, false, true), x);
        OpCheck.gradCheck("min with ties", xs -> MaxReduce.apply(xs.get(0), new int[] {1}, false, false), x);
    }

    @Test
    void threeWayTiesSplitInThirds() {
        // central differences give ½ for any number of ties; amax's even split gives 1/k, so check the values
        Variable x = Variable.parameter(Tensor.of(new double[] {2, 1, 2, 2, 0, 5}, 6));
        MaxReduce.apply(x, new int[] {0}, false, true).backward();
        assertArrayEquals(new double[] {0, 0, 0, 0, 0, 1}, x.grad().toDoubleArray(), 0);
        Variable y = Variable.parameter(Tensor.of(new double[] {2, 1, 2, 2, 0, 1}, 2, 3));
        MaxReduce.apply(y, new int[] {}, false, true).backward();
        assertArrayEquals(new double[] {1.0 / 3, 0, 1.0 / 3, 1.0 / 3, 0, 0}, y.grad().toDoubleArray(), 1e-15);
    }

    /** PyTorch through DJL reduces one axis at a time (its max takes one axis); without ties that is the same. */
    private static NDArray torch(NDArray x, int[] axes, boolean keepDims, boolean max) {
        int[] all = axes.length == 0 ? new int[] {0, 1, 2} : axes;
        int[] normalised = Arrays.stream(all).map(a -> a < 0 ? a + 3 : a).sorted().toArray();
        NDArray out = x;
        for (int k = normalised.length - 1; k >= 0; k--) { // last axis first, so earlier axis numbers stay valid
            int[] axis = {normalised[k]};
            out = max ? out.max(axis, keepDims) : out.min(axis, keepDims);
        }
        return out;
    }
}
