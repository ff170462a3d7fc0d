package ai.fulgur.autograd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.autograd.functions.CrossEntropy;
import ai.fulgur.autograd.functions.LayerNorm;
import ai.fulgur.autograd.functions.Linear;
import ai.fulgur.autograd.functions.MatMul;
import ai.fulgur.autograd.functions.Softmax;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * {@link Autocast}: which dtype each op computes in under a scope, that gradients reach the F32 parameters in F32,
 * and that the half results and gradients match a float64 evaluation of the same formulas within the half type's
 * rounding.
 */
class AutocastTest {

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void gemmsRunInHalfNormsAndLossInF32GradientsInF32(DType half) {
        SplittableRandom rnd = new SplittableRandom(7);
        // x (2, 3, 8) -> layer norm -> linear (8 -> 6) -> + residual projection -> softmax; and a loss
        Variable x = Variable.constant(normal(rnd, 1.0, 2, 3, 8));
        Variable gamma = Variable.parameter(normalAround(rnd, 1.0, 0.1, 8));
        Variable beta = Variable.parameter(normal(rnd, 0.1, 8));
        Variable w = Variable.parameter(normal(rnd, 0.3, 6, 8));
        Variable b = Variable.parameter(normal(rnd, 0.1, 6));
        Variable r = Variable.parameter(normal(rnd, 0.3, 8, 6));
        Variable c = Variable.parameter(normal(rnd, 0.1, 6));
        Tensor targets = Tensor.of(new long[] {0, 5, 2, 3, 1, 4}, 2, 3);

        Variable loss;
        try (Autocast.Scope s = Autocast.enable(half)) {
            Variable h = LayerNorm.apply(x, Shape.of(8), gamma, beta, 1e-5);
            assertEquals(DType.F32, h.dtype(), "layer norm of an F32 input");
            Variable y = Linear.apply(h, w, b);
            assertEquals(half, y.dtype(), "linear");
            Variable z = MatMul.apply(h, r);                   // (2, 3, 6), half
            assertEquals(half, z.dtype(), "matmul");
            Variable again = Linear.apply(h, w, null);        // w read a second time: its cast is reused
            Variable sum;
            try (Autocast.Scope off = Autocast.disable()) {
                assertNull(Autocast.dtype(), "a disabling scope turns autocast off");
                sum = h.add(h);                                  // F32 + F32, untouched
            }
            assertEquals(half, Autocast.dtype(), "closing the inner scope restores the outer one");
            assertEquals(DType.F32, sum.dtype());
            Variable mixed = again.add(c);                       // half + F32 widens to F32
            assertEquals(DType.F32, mixed.dtype(), "half + F32 promotes");
            Variable p = Softmax.apply(z, -1, false);
            assertEquals(DType.F32, p.dtype(), "softmax of a half input");
            Variable logits = y.add(z);                          // half + half stays half
            assertEquals(half, logits.dtype());
            Variable ce = CrossEntropy.apply(logits, targets, -100, CrossEntropy.Reduction.MEAN);
            assertEquals(DType.F32, ce.dtype(), "cross-entropy of half logits gives an F32 loss");
            assertEquals(3, s.cachedCasts(), "w, b and r each cast once (w is read twice; gamma, beta, c stay F32)");
            loss = ce.add(mixed.mean()).add(p.mul(p).sum());
        }
        loss.backward();
        for (Variable param : new Variable[] {gamma, beta, w, b, r, c}) {
            assertEquals(DType.F32, param.dtype(), "parameters stay F32");
            assertEquals(DType.F32, param.grad().dtype(), "gradients reach the F32 masters in F32");
        }

        // the same graph in float64, without autocast, at the F64 copies of the parameters
        double eps = half == DType.BF16 ? 0x1p-8 : 0x1p-11;
        Variable x64 = Variable.constant(x.data().cast(DType.F64));
        Variable[] p32 = {gamma, beta, w, b, r, c};
        Variable[] p64 = new Variable[p32.length];
        for (int i = 0; i < p32.length; i++) {
            p64[i] = Variable.parameter(p32[i].data().cast(DType.F64));
        }
        Variable h = LayerNorm.apply(x64, Shape.of(8), p64[0], p64[1], 1e-5);
        Variable y = Linear.apply(h, p64[2], p64[3]);
        Variable z = MatMul.apply(h, p64[4]);
        Variable mixed = Linear.apply(h, p64[2], null).add(p64[5]);
        Variable p = Softmax.apply(z, -1, false);
        Variable ce = CrossEntropy.apply(y.add(z), targets, -100, CrossEntropy.Reduction.MEAN);
        Variable loss64 = ce.add(mixed.mean()).add(p.mul(p).sum());
        loss64.backward();
        double ref = loss64.data().toDoubleArray()[0];
        double got = loss.data().toDoubleArray()[0];
        assertTrue(Math.abs(got - ref) <= 20 * eps * Math.max(1, Math.abs(ref)),
                half + " loss " + got + " vs float64 " + ref + ", tolerance " + 20 * eps);
        String[] names = {"gamma", "beta", "w", "b", "r", "c"};
        for (int i = 0; i < p32.length; i++) {
            double[] g = p32[i].grad().toDoubleArray();
            double[] e = p64[i].grad().toDoubleArray();
            double scale = 0;
            for (double v : e) {
                scale = Math.max(scale, Math.abs(v));
            }
            for (int j = 0; j < g.length; j++) {
                double tol = 30 * eps * Math.max(scale, 1e-3);
                assertTrue(Math.abs(g[j] - e[j]) <= tol, half + " d" + names[i] + "[" + j + "] = " + g[j]
                        + ", float64 " + e[j] + ", tolerance " + tol);
            }
        }
    }

    @Test
    void aParameterIsCastOncePerScopeAndAgainAfterItChanges() {
        SplittableRandom rnd = new SplittableRandom(3);
        Variable w = Variable.parameter(normal(rnd, 1, 4, 4));
        Variable x = Variable.constant(normal(rnd, 1, 2, 4));
        try (Autocast.Scope s = Autocast.enable(DType.BF16)) {
            Variable a = Linear.apply(x, w, null);
            Variable b = Linear.apply(x, w, null);
            assertEquals(1, s.cachedCasts());
            a.add(b).sum().backward();
            // both uses reach w through the one cast: dW = 2 · Σ_rows x (bf16 inputs, F32 sums)
            double[] g = w.grad().toDoubleArray();
            double[] xv = x.data().cast(DType.BF16).toDoubleArray();
            for (int o = 0; o < 4; o++) {
                for (int i = 0; i < 4; i++) {
                    double expected = 2 * (xv[i] + xv[4 + i]);
                    assertEquals(expected, g[o * 4 + i], 1e-2 * Math.max(1, Math.abs(expected)), "dW[" + o + "," + i + "]");
                }
            }
            Tensor cast1 = Linear.apply(x, w, null).data();
            w.bumpVersion(); // as an optimizer step does
            Linear.apply(x, w, null);
            assertEquals(1, s.cachedCasts(), "the stale cast is replaced, not added");
            assertEquals(DType.BF16, cast1.dtype());
        }
        assertNull(Autocast.dtype(), "closed");
    }

    @Test
    void onlyHalfTypesAreAccepted() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Autocast.enable(DType.F32));
        assertTrue(e.getMessage().contains("F32") && e.getMessage().contains("BF16"), e.getMessage());
    }

    private static Tensor normal(SplittableRandom rnd, double std, long... shape) {
        return normalAround(rnd, 0.0, std, shape);
    }

    private static Tensor normalAround(SplittableRandom rnd, double mean, double std, long... shape) {
        long n = Shape.of(shape).numel();
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            // Box-Muller
            double u1 = rnd.nextDouble(1e-12, 1);
            double u2 = rnd.nextDouble();
            v[i] = (float) (mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
        }
        return Tensor.of(v, shape);
    }
}
