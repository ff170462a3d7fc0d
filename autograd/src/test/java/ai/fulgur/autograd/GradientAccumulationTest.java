package ai.fulgur.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import ai.fulgur.autograd.functions.Linear;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * How gradients reach leaves with the defaults: a zeroed gradient is overwritten by the next backward (no fill, no
 * add) and reads as zeros before that; an autocast parameter's half gradient is cast into (or added widened to) its
 * F32 gradient; an F32 + half add under autocast keeps each operand's gradient in its own type. Values are compared
 * with plain float arithmetic on the same numbers.
 */
class GradientAccumulationTest {

    @Test
    void aZeroedGradientIsOverwrittenByTheNextBackwardInTheSameTensor() {
        Variable p = Variable.parameter(Tensor.of(new float[] {1, -2, 3}, 3));
        p.mul(Variable.constant(Tensor.of(new float[] {2, 2, 2}, 3))).sum().backward();
        Tensor grad = p.grad();
        assertArrayEquals(new float[] {2, 2, 2}, grad.toFloatArray());
        p.zeroGrad();
        p.mul(Variable.constant(Tensor.of(new float[] {3, 4, 5}, 3))).sum().backward();
        assertSame(grad, p.grad(), "the gradient tensor is kept (DJL's gradient arrays share it)");
        assertArrayEquals(new float[] {3, 4, 5}, p.grad().toFloatArray(), "zero + (3, 4, 5), not (2, 2, 2) + ...");
    }

    @Test
    void aZeroedGradientReadBeforeAnyBackwardIsZeros() {
        Variable p = Variable.parameter(Tensor.of(new float[] {1, 2}, 2));
        p.sum().backward();
        p.zeroGrad();
        assertArrayEquals(new float[] {0, 0}, p.grad().toFloatArray());
    }

    @Test
    void severalContributionsAfterAZeroAddUp() {
        Variable p = Variable.parameter(Tensor.of(new float[] {1, 2}, 2));
        p.sum().backward();
        p.zeroGrad();
        // p read twice: the first contribution overwrites the zeroed gradient, the second adds to it
        p.mul(Variable.constant(Tensor.of(new float[] {3, 3}, 2))).add(p).sum().backward();
        assertArrayEquals(new float[] {4, 4}, p.grad().toFloatArray());
        p.sum().backward(); // no zero in between: accumulates
        assertArrayEquals(new float[] {5, 5}, p.grad().toFloatArray());
    }

    @Test
    void anAutocastParameterTakesItsHalfGradientCastIntoF32() {
        SplittableRandom rnd = new SplittableRandom(3);
        Tensor x = random(rnd, 4, 8);
        Variable w = Variable.parameter(random(rnd, 5, 8));
        Variable b = Variable.parameter(random(rnd, 5));
        Tensor first = step(x, w, b);                    // no gradient yet: a new F32 gradient cast from the half one
        assertEquals(DType.F32, first.dtype());
        float[] once = first.toFloatArray();
        float[] bias = b.grad().toFloatArray();
        w.zeroGrad();
        b.zeroGrad();
        assertArrayEquals(once, step(x, w, b).toFloatArray(), "a zeroed gradient takes the half one cast");
        assertArrayEquals(bias, b.grad().toFloatArray(), "bias, cast into the zeroed gradient");
        float[] twice = step(x, w, b).toFloatArray();     // F32 += half, widened in the add
        for (int i = 0; i < once.length; i++) {
            assertEquals(2 * once[i], twice[i], 0f, "element " + i + ": the same half gradient added widened");
        }
    }

    /** One forward and backward of Σ linear(x) under a BF16 scope; returns w's gradient. */
    private static Tensor step(Tensor x, Variable w, Variable b) {
        Variable y;
        try (Autocast.Scope s = Autocast.enable(DType.BF16)) {
            y = Linear.apply(Variable.constant(x), w, b);
        }
        assertEquals(DType.BF16, y.dtype());
        y.sum().backward();
        return w.grad();
    }

    @Test
    void anF32PlusHalfAddUnderAutocastWidensInTheAddAndGivesEachOperandItsOwnType() {
        SplittableRandom rnd = new SplittableRandom(4);
        Tensor a = random(rnd, 3, 5);
        Tensor h = random(rnd, 3, 5).cast(DType.BF16);
        Tensor weights = random(rnd, 3, 5);
        Variable residual = Variable.parameter(a);
        Variable branch = Variable.parameter(h);
        Variable sum;
        try (Autocast.Scope s = Autocast.enable(DType.BF16)) {
            sum = residual.add(branch);
            assertEquals(DType.F32, sum.dtype(), "F32 + BF16 under autocast");
            assertEquals(DType.F32, branch.add(residual).dtype(), "BF16 + F32 under autocast");
        }
        float[] av = a.toFloatArray();
        float[] hv = h.toFloatArray();
        float[] s = sum.data().toFloatArray();
        for (int i = 0; i < s.length; i++) {
            assertEquals(av[i] + hv[i], s[i], 0f, "element " + i + ": F32 add of the widened BF16 value");
        }
        sum.mul(Variable.constant(weights)).sum().backward();
        assertEquals(DType.F32, residual.grad().dtype());
        assertEquals(DType.BF16, branch.grad().dtype(), "the half operand's gradient is half");
        assertArrayEquals(weights.toFloatArray(), residual.grad().toFloatArray());
        assertArrayEquals(weights.cast(DType.BF16).toFloatArray(), branch.grad().toFloatArray());
    }

    private static Tensor random(SplittableRandom rnd, long... shape) {
        float[] v = new float[Math.toIntExact(Shape.of(shape).numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextDouble(-1, 1);
        }
        return Tensor.of(v, shape);
    }
}
