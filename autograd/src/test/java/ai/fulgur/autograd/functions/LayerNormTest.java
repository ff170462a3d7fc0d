package ai.fulgur.autograd.functions;

import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link LayerNorm} over one or two trailing axes, with and without gamma and beta, against central differences and
 * PyTorch's layer_norm.
 */
class LayerNormTest {
    private static final double EPS = 1e-5;

    @ParameterizedTest(name = "{0} normalized axes, affine")
    @ValueSource(ints = {1, 2})
    void affine(int normalizedAxes) {
        SplittableRandom rnd = new SplittableRandom(normalizedAxes);
        Shape normalized = normalizedAxes == 1 ? Shape.of(7) : Shape.of(3, 7);
        Tensor x = input(rnd);
        Tensor gamma = OpCheck.normal(rnd, normalized.dims());
        Tensor beta = OpCheck.normal(rnd, normalized.dims());
        OpCheck.both("layerNorm " + normalized + " affine",
                xs -> LayerNorm.apply(xs.get(0), normalized, xs.get(1), xs.get(2), EPS),
                (m, xs) -> torch(m, xs.get(0), normalized, xs.get(1), xs.get(2)), x, gamma, beta);
    }

    @ParameterizedTest(name = "{0} normalized axes, no affine")
    @ValueSource(ints = {1, 2})
    void withoutAffine(int normalizedAxes) {
        SplittableRandom rnd = new SplittableRandom(10 + normalizedAxes);
        Shape normalized = normalizedAxes == 1 ? Shape.of(7) : Shape.of(3, 7);
        Tensor x = input(rnd);
        OpCheck.both("layerNorm " + normalized + " no affine",
                xs -> LayerNorm.apply(xs.get(0), normalized, null, null, EPS),
                (m, xs) -> torch(m, xs.get(0), normalized, null, null), x);
    }

    @Test
    void rank2InputAndFrozenGamma() {
        SplittableRandom rnd = new SplittableRandom(5);
        Tensor x = OpCheck.normal(rnd, 3, 5);
        Tensor gamma = OpCheck.normal(rnd, 5);
        Tensor beta = OpCheck.normal(rnd, 5);
        OpCheck.both("layerNorm (3,5) over (5)",
                xs -> LayerNorm.apply(xs.get(0), Shape.of(5), xs.get(1), xs.get(2), EPS),
                (m, xs) -> torch(m, xs.get(0), Shape.of(5), xs.get(1), xs.get(2)), x, gamma, beta);
        // gamma a constant: x and beta still get their gradients
        OpCheck.gradCheck("layerNorm with constant gamma",
                xs -> LayerNorm.apply(xs.get(0), Shape.of(5), Variable.constant(gamma), xs.get(1), EPS), x, beta);
    }

    @Test
    void gammaWithoutBetaIsRejected() {
        Variable x = Variable.parameter(Tensor.of(new double[15], 3, 5));
        Variable gamma = Variable.parameter(Tensor.of(new double[5], 5));
        assertThrows(IllegalArgumentException.class, () -> LayerNorm.apply(x, Shape.of(5), gamma, null, EPS));
    }

    /** (2, 3, 7) values with a per-row offset and scale, so rows differ in mean and variance. */
    private static Tensor input(SplittableRandom rnd) {
        double[] v = OpCheck.normal(rnd, 2, 3, 7).toDoubleArray();
        for (int i = 0; i < v.length; i++) {
            int row = i / 7;
            v[i] = v[i] * (0.5 + row) + row - 2;
        }
        return Tensor.of(v, 2, 3, 7);
    }

    private static NDArray torch(NDManager m, NDArray x, Shape normalized, NDArray gamma, NDArray beta) {
        ai.djl.ndarray.types.Shape s = new ai.djl.ndarray.types.Shape(normalized.dims());
        // without affine, PyTorch is given fixed ones and zeros that take no gradient
        NDArray g = gamma != null ? gamma : m.ones(s, x.getDataType());
        NDArray b = beta != null ? beta : m.zeros(s, x.getDataType());
        return x.getNDArrayInternal().layerNorm(x, s, g, b, (float) EPS).get(0);
    }
}
