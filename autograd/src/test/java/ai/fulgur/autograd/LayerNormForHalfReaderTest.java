package ai.fulgur.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.fulgur.autograd.functions.LayerNorm;
import ai.fulgur.autograd.functions.Linear;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Autocast#forHalfReader}: a layer norm read only by a GEMM writes the scope's half type directly, and the
 * values, the GEMM's output and every gradient (x, gamma, beta, the weights) equal those of the F32 layer norm whose
 * output the GEMM casts (bit for bit on the CPU); outside a scope, and outside the mark, layer norm stays F32. The
 * switch ({@code -Dfulgur.autocast.halfReaderOutput}, on by default) is set on by each test but the first.
 */
class LayerNormForHalfReaderTest {
    @BeforeEach
    void on() {
        System.setProperty(Autocast.HALF_READER_OUTPUT, "true");
    }

    @AfterEach
    void off() {
        System.clearProperty(Autocast.HALF_READER_OUTPUT);
    }

    @Test
    void switchedOffTheMarkChangesNothing() {
        System.setProperty(Autocast.HALF_READER_OUTPUT, "false");
        try (Autocast.Scope s = Autocast.enable(DType.BF16); Autocast.HalfReader r = Autocast.forHalfReader()) {
            assertNull(Autocast.halfReaderOutput());
        }
    }

    @Test
    void underTheMarkLayerNormWritesHalfAndEverythingEqualsTheCastPath() {
        SplittableRandom rnd = new SplittableRandom(8);
        Tensor x = random(rnd, 3, 4, 16);
        Tensor gamma = random(rnd, 16);
        Tensor beta = random(rnd, 16);
        Tensor w = random(rnd, 8, 16);
        Tensor weights = random(rnd, 3, 4, 8);
        Variable[] marked = run(x, gamma, beta, w, weights, true);
        Variable[] plain = run(x, gamma, beta, w, weights, false);
        assertEquals(DType.BF16, marked[0].dtype(), "layer norm output under the mark");
        assertEquals(DType.F32, plain[0].dtype(), "layer norm output without the mark");
        assertArrayEquals(plain[0].data().cast(DType.BF16).toFloatArray(), marked[0].data().toFloatArray(), "y");
        assertArrayEquals(plain[1].data().toFloatArray(), marked[1].data().toFloatArray(), "the GEMM's output");
        String[] names = {"", "", "x", "gamma", "beta", "w"};
        for (int i = 2; i < names.length; i++) {
            assertEquals(DType.F32, marked[i].grad().dtype(), names[i] + " gradient");
            assertArrayEquals(plain[i].grad().toFloatArray(), marked[i].grad().toFloatArray(), names[i] + " gradient");
        }
    }

    @Test
    void theMarkAloneChangesNothingWithoutAnAutocastScope() {
        try (Autocast.HalfReader r = Autocast.forHalfReader()) {
            assertNull(Autocast.halfReaderOutput());
            Variable y = LayerNorm.apply(Variable.constant(Tensor.of(new float[] {1, 2, 3, 4}, 1, 4)), Shape.of(4),
                    null, null, 1e-5);
            assertEquals(DType.F32, y.dtype());
        }
        try (Autocast.Scope s = Autocast.enable(DType.BF16)) {
            assertNull(Autocast.halfReaderOutput(), "a scope without the mark");
            try (Autocast.HalfReader r = Autocast.forHalfReader()) {
                assertEquals(DType.BF16, Autocast.halfReaderOutput());
            }
            assertNull(Autocast.halfReaderOutput(), "closing the mark ends it");
        }
    }

    /** {y, linear(y), x, gamma, beta, w} after backward of Σ linear(layerNorm(x)) ∘ weights under a BF16 scope. */
    private static Variable[] run(Tensor x, Tensor gamma, Tensor beta, Tensor w, Tensor weights, boolean mark) {
        Variable xv = Variable.parameter(x.copy());
        Variable g = Variable.parameter(gamma.copy());
        Variable b = Variable.parameter(beta.copy());
        Variable wv = Variable.parameter(w.copy());
        Variable y;
        Variable out;
        try (Autocast.Scope s = Autocast.enable(DType.BF16)) {
            if (mark) {
                try (Autocast.HalfReader r = Autocast.forHalfReader()) {
                    y = LayerNorm.apply(xv, Shape.of(16), g, b, 1e-5);
                }
            } else {
                y = LayerNorm.apply(xv, Shape.of(16), g, b, 1e-5);
            }
            out = Linear.apply(y, wv, null);
        }
        out.mul(Variable.constant(weights.cast(DType.BF16))).sum().backward();
        return new Variable[] {y, out, xv, g, b, wv};
    }

    private static Tensor random(SplittableRandom rnd, long... shape) {
        float[] v = new float[Math.toIntExact(Shape.of(shape).numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextDouble(-1, 1);
        }
        return Tensor.of(v, shape);
    }
}
