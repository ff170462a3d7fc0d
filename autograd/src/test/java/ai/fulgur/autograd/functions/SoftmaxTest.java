package ai.fulgur.autograd.functions;

import ai.fulgur.ops.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link Softmax}: softmax and log-softmax along every axis (negative ones too) of (3, 5) and (2, 3, 7) inputs. */
class SoftmaxTest {

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (boolean log : new boolean[] {false, true}) {
            for (int axis : new int[] {0, 1, -1}) {
                cases.add(Arguments.of(log, new long[] {3, 5}, axis));
            }
            for (int axis : new int[] {0, 1, 2, -2}) {
                cases.add(Arguments.of(log, new long[] {2, 3, 7}, axis));
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "log={0} shape={1} axis={2}")
    @MethodSource("cases")
    void gradientMatchesCentralDifferencesAndTorch(boolean log, long[] shape, int axis) {
        // scaled by 3 so that some rows are far from uniform
        Tensor x = ai.fulgur.ops.elementwise.Elementwise.mulScalar(
                OpCheck.normal(new SplittableRandom(shape.length * 10L + axis), shape), 3);
        OpCheck.both((log ? "logSoftmax" : "softmax") + " axis " + axis, xs -> Softmax.apply(xs.get(0), axis, log),
                (m, xs) -> log ? xs.get(0).logSoftmax(axis) : xs.get(0).softmax(axis), x);
    }
}
