package ai.fulgur.training.nn;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.ops.activation.GeluForm;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Both GELU forms on both engines (fused on Fulgur, composed or DJL's on PyTorch) against the formulas evaluated in
 * float64 on the host; the two forms differ by up to about 1e-3, far above the tolerance, so a swapped form fails.
 */
class GeluTest {

    @ParameterizedTest
    @CsvSource({"Fulgur, ERF", "Fulgur, TANH", "PyTorch, ERF", "PyTorch, TANH"})
    void matchesFloat64Formula(String engine, GeluForm form) {
        float[] x = NnTestSupport.normal(21, 4000);
        for (int i = 0; i < x.length; i++) {
            x[i] *= 3;
        }
        try (NDManager m = engine.equals("Fulgur") ? NnTestSupport.fulgurManager() : NnTestSupport.torchManager()) {
            NDArray y = Gelu.apply(m.create(x), form);
            if (engine.equals("Fulgur")) {
                assertInstanceOf(FulgurNDArray.class, y);
            }
            float[] got = y.toFloatArray();
            double[] expected = new double[x.length];
            double[] actual = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                expected[i] = form == GeluForm.TANH ? geluTanh(x[i]) : geluErf(x[i]);
                actual[i] = got[i];
            }
            double diff = NnTestSupport.assertValues(engine + " " + form, expected, actual, 2e-6, 2e-6);
            assertTrue(diff < 2e-5);
        }
    }

    private static double geluTanh(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    /**
     * x·Φ(x) with erf in double precision: the Maclaurin series for |z| < 2.5 (terms stay below e^6.25, so no
     * cancellation), else erfc's continued fraction erfc(z) = e^(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …)))).
     */
    private static double geluErf(double x) {
        double z = Math.abs(x) / Math.sqrt(2);
        double erf;
        if (z < 2.5) {
            double term = z;
            double sum = z;
            for (int n = 1; n < 200; n++) {
                term *= -z * z / n;
                sum += term / (2 * n + 1);
            }
            erf = 2 / Math.sqrt(Math.PI) * sum;
        } else {
            double k = z;
            for (int n = 200; n >= 1; n--) {
                k = z + (n / 2.0) / k;
            }
            erf = 1 - Math.exp(-z * z) / (Math.sqrt(Math.PI) * k);
        }
        return 0.5 * x * (1 + Math.copySign(erf, x));
    }
}
