package ai.fulgur.autograd.functions;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.activation.GeluForm;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link Gelu} in both forms. The erf form is compared with DJL's {@code Activation.gelu} (PyTorch's exact GELU); the
 * tanh form with the formula written out in PyTorch ops, differentiated by PyTorch's autograd.
 */
class GeluTest {

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (GeluForm form : GeluForm.values()) {
            cases.add(Arguments.of(form, new long[] {3, 5}));
            cases.add(Arguments.of(form, new long[] {2, 3, 7}));
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void gradientMatchesCentralDifferencesAndTorch(GeluForm form, long[] shape) {
        // values in [-4, 4): the tails, where gelu' leaves 0 and 1, and the bump near -0.75
        Tensor x = OpCheck.uniform(new SplittableRandom(form.ordinal() * 7L + shape.length), -4, 4, shape);
        OpCheck.both("gelu " + form, xs -> Gelu.apply(xs.get(0), form),
                (m, xs) -> form == GeluForm.ERF ? Activation.gelu(xs.get(0)) : geluTanh(xs.get(0)), x);
    }

    /** 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))). */
    private static NDArray geluTanh(NDArray x) {
        NDArray inner = x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
        return x.mul(0.5).mul(inner.tanh().add(1));
    }
}
