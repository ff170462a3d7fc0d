package ai.fulgur.ops.norm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * Layer norm with autocast's mixed types: an F32 x normalised into a BF16/F16 y equals the F32 layer norm rounded to
 * that type (bit for bit on the CPU) and the float64 formula within the half type's rounding; the backward from a half
 * dy gives the F32 gradients of the widened dy (bit for bit) and the float64 formulas within 1e-5. Other type mixes are
 * rejected with the types named.
 */
class NormHalfTypesTest {
    private static final double EPS = 1e-5;

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void anF32InputNormalisedIntoAHalfOutputIsTheRoundedF32Result(DType half) {
        SplittableRandom rnd = new SplittableRandom(11);
        int r = 13;
        int c = 36;
        Tensor x = random(rnd, 0.5, 2, r, c);
        Tensor gamma = random(rnd, 1, 0.2, c);
        Tensor beta = random(rnd, 0, 0.2, c);
        Norm.LayerNormResult f32 = Norm.layerNormForward(x, Shape.of(c), gamma, beta, EPS);
        Norm.LayerNormResult mixed = Norm.layerNormForward(x, Shape.of(c), gamma, beta, EPS, half);
        assertEquals(half, mixed.y().dtype());
        assertEquals(DType.F32, mixed.mean().dtype());
        assertArrayEquals(f32.y().cast(half).toFloatArray(), mixed.y().toFloatArray(), "y = cast(F32 layer norm)");
        assertArrayEquals(f32.rstd().toFloatArray(), mixed.rstd().toFloatArray(), "rstd");
        // against float64: two-pass mean and variance, then the half rounding (relative step 2^-8 for BF16)
        double[] xv = x.toDoubleArray();
        double[] g = gamma.toDoubleArray();
        double[] b = beta.toDoubleArray();
        float[] y = mixed.y().toFloatArray();
        double tol = half == DType.BF16 ? 1.0 / 128 : 1.0 / 1024;
        for (int i = 0; i < r; i++) {
            double mean = 0;
            for (int j = 0; j < c; j++) {
                mean += xv[i * c + j];
            }
            mean /= c;
            double var = 0;
            for (int j = 0; j < c; j++) {
                var += (xv[i * c + j] - mean) * (xv[i * c + j] - mean);
            }
            double rstd = 1 / Math.sqrt(var / c + EPS);
            for (int j = 0; j < c; j++) {
                double want = (xv[i * c + j] - mean) * rstd * g[j] + b[j];
                assertTrue(Math.abs(y[i * c + j] - want) <= tol * (1e-3 + Math.abs(want)), "(" + i + ", " + j
                        + "): " + y[i * c + j] + " vs float64 " + want);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void aHalfGradientGivesTheF32GradientsOfItsWidenedValues(DType half) {
        SplittableRandom rnd = new SplittableRandom(12);
        int r = 9;
        int c = 20;
        Tensor x = random(rnd, 0.5, 2, r, c);
        Tensor gamma = random(rnd, 1, 0.2, c);
        Tensor beta = random(rnd, 0, 0.2, c);
        Tensor dy = random(rnd, 0, 1, r, c).cast(half);
        Norm.LayerNormResult f = Norm.layerNormForward(x, Shape.of(c), gamma, beta, EPS, half);
        Norm.LayerNormGrads mixed = Norm.layerNormBackward(dy, x, Shape.of(c), f.mean(), f.rstd(), gamma, true);
        Norm.LayerNormGrads widened = Norm.layerNormBackward(dy.cast(DType.F32), x, Shape.of(c), f.mean(), f.rstd(),
                gamma, true);
        assertEquals(DType.F32, mixed.dx().dtype());
        assertEquals(DType.F32, mixed.dgamma().dtype());
        assertArrayEquals(widened.dx().toFloatArray(), mixed.dx().toFloatArray(), "dx");
        assertArrayEquals(widened.dgamma().toFloatArray(), mixed.dgamma().toFloatArray(), "dgamma");
        assertArrayEquals(widened.dbeta().toFloatArray(), mixed.dbeta().toFloatArray(), "dbeta");
        // float64: dx = rstd·(g − mean(g) − xhat·mean(g·xhat)), g = dy·gamma; dgamma = Σ dy·xhat; dbeta = Σ dy
        double[] xv = x.toDoubleArray();
        double[] gv = gamma.toDoubleArray();
        double[] dv = dy.toDoubleArray();
        double[] mean = f.mean().toDoubleArray();
        double[] rstd = f.rstd().toDoubleArray();
        float[] dx = mixed.dx().toFloatArray();
        float[] dgamma = mixed.dgamma().toFloatArray();
        double[] wantGamma = new double[c];
        for (int i = 0; i < r; i++) {
            double sg = 0;
            double sgx = 0;
            for (int j = 0; j < c; j++) {
                double xhat = (xv[i * c + j] - mean[i]) * rstd[i];
                double g = dv[i * c + j] * gv[j];
                sg += g;
                sgx += g * xhat;
                wantGamma[j] += dv[i * c + j] * xhat;
            }
            for (int j = 0; j < c; j++) {
                double xhat = (xv[i * c + j] - mean[i]) * rstd[i];
                double want = rstd[i] * (dv[i * c + j] * gv[j] - sg / c - xhat * sgx / c);
                assertEquals(want, dx[i * c + j], 1e-5 * (1 + Math.abs(want)), "dx (" + i + ", " + j + ")");
            }
        }
        for (int j = 0; j < c; j++) {
            assertEquals(wantGamma[j], dgamma[j], 1e-5 * (1 + Math.abs(wantGamma[j])), "dgamma " + j);
        }
    }

    @Test
    void otherTypeMixesAreRejectedWithTheTypesNamed() {
        Tensor x16 = Tensor.zeros(Shape.of(2, 4), DType.BF16, ai.fulgur.ops.Device.CPU);
        IllegalArgumentException out = assertThrows(IllegalArgumentException.class,
                () -> Norm.layerNormForward(x16, Shape.of(4), null, null, EPS, DType.F16));
        assertTrue(out.getMessage().contains("F16") && out.getMessage().contains("BF16"), out.getMessage());
        Tensor x = Tensor.zeros(Shape.of(2, 4), DType.F32, ai.fulgur.ops.Device.CPU);
        IllegalArgumentException toF64 = assertThrows(IllegalArgumentException.class,
                () -> Norm.layerNormForward(x, Shape.of(4), null, null, EPS, DType.F64));
        assertTrue(toF64.getMessage().contains("F64"), toF64.getMessage());
        Norm.LayerNormResult f = Norm.layerNormForward(x16, Shape.of(4), null, null, EPS);
        Tensor dy = Tensor.zeros(Shape.of(2, 4), DType.F16, ai.fulgur.ops.Device.CPU);
        IllegalArgumentException back = assertThrows(IllegalArgumentException.class,
                () -> Norm.layerNormBackward(dy, x16, Shape.of(4), f.mean(), f.rstd(), null, false));
        assertTrue(back.getMessage().contains("F16") && back.getMessage().contains("BF16"), back.getMessage());
    }

    private static Tensor random(SplittableRandom rnd, double mean, double spread, long... shape) {
        float[] v = new float[Math.toIntExact(Shape.of(shape).numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (mean + spread * (2 * rnd.nextDouble() - 1));
        }
        return Tensor.of(v, shape);
    }
}
