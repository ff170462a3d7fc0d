package ai.fulgur.autograd.functions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Dropout}: with a fixed (seed, offset) the mask is fixed, so the op is linear and central differences apply.
 * PyTorch draws a different mask, so instead of comparing with it the gradient is checked against the forward
 * output's zero pattern: dx = mask·dy/(1 − p).
 */
class DropoutTest {

    @ParameterizedTest(name = "p = {0}")
    @ValueSource(doubles = {0.1, 0.5, 0.8})
    void gradCheckWithFixedSeed(double p) {
        SplittableRandom rnd = new SplittableRandom(3);
        OpCheck.gradCheck("dropout p=" + p + " (3,5)", xs -> Dropout.apply(xs.get(0), p, 1234, 0),
                OpCheck.normal(rnd, 3, 5));
        OpCheck.gradCheck("dropout p=" + p + " (2,3,7) offset 99", xs -> Dropout.apply(xs.get(0), p, 42, 99),
                OpCheck.normal(rnd, 2, 3, 7));
    }

    @ParameterizedTest(name = "p = {0}")
    @ValueSource(doubles = {0.1, 0.5, 0.8})
    void gradientIsMaskTimesUpstreamOverKeepProbability(double p) {
        SplittableRandom rnd = new SplittableRandom(9);
        Tensor xv = OpCheck.awayFromZero(rnd, 17, 23).cast(DType.F32); // no exact zeros: a zero output means dropped
        Variable x = Variable.parameter(xv);
        Variable y = Dropout.apply(x, p, 7, 3);
        Tensor dy = OpCheck.normal(rnd, 17, 23).cast(DType.F32);
        y.backward(dy);

        float[] in = xv.toFloatArray();
        float[] out = y.data().toFloatArray();
        float[] up = dy.toFloatArray();
        float[] dx = x.grad().toFloatArray();
        int dropped = 0;
        for (int i = 0; i < out.length; i++) {
            boolean kept = out[i] != 0;
            dropped += kept ? 0 : 1;
            float scale = (float) (1 / (1 - p));
            float expectedY = kept ? in[i] * scale : 0;
            float expectedDx = kept ? up[i] * scale : 0;
            assertEquals(expectedY, out[i], 1e-6f * Math.abs(expectedY), "y at " + i);
            assertEquals(expectedDx, dx[i], 1e-6f * Math.abs(expectedDx), "dx at " + i + " (kept " + kept + ")");
        }
        // 391 Bernoulli(p) draws: the dropped fraction is within 5 standard deviations of p
        double sd = Math.sqrt(p * (1 - p) / out.length);
        assertTrue(Math.abs((double) dropped / out.length - p) < 5 * sd,
                "dropped " + dropped + " of " + out.length + " at p = " + p);
    }

    @Test
    void differentOffsetsGiveDifferentMasks() {
        float[] ones = new float[64];
        Arrays.fill(ones, 1);
        Variable x = Variable.parameter(Tensor.of(ones, 64));
        float[] a = Dropout.apply(x, 0.5, 1, 0).data().toFloatArray();
        float[] b = Dropout.apply(x, 0.5, 1, 64).data().toFloatArray();
        assertNotEquals(Arrays.toString(a), Arrays.toString(b));
    }

    @Test
    void zeroProbabilityIsTheIdentity() {
        Variable x = Variable.parameter(Tensor.of(new double[] {1, 2}, 2));
        assertSame(x, Dropout.apply(x, 0, 1, 0));
    }
}
