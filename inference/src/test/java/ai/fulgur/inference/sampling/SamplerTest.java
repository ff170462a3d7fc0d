package ai.fulgur.inference.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SamplerTest {
    private static final float[] LOGITS = {1.0f, 3.0f, 2.0f, -1.0f, 0.5f};

    private static SamplingParams params(double t, int k, double p, long seed) {
        return new SamplingParams(t, k, p, seed, 10, null);
    }

    @Test
    void greedyTakesTheArgMax() {
        assertEquals(1, new Sampler(SamplingParams.greedy(4)).next(LOGITS));
        assertEquals(0, Sampler.argMax(new float[] {Float.NaN, Float.NaN}));
        assertEquals(1, Sampler.argMax(new float[] {Float.NaN, 2f, 1f}));
    }

    /** softmax(z/T) worked out by hand, then top-k and top-p by their definitions. */
    @Test
    void probabilitiesFollowTemperatureTopKAndTopP() {
        double t = 2;
        double[] e = new double[LOGITS.length];
        double s = 0;
        for (int i = 0; i < e.length; i++) {
            e[i] = Math.exp(LOGITS[i] / t);
            s += e[i];
        }
        for (int i = 0; i < e.length; i++) {
            e[i] /= s;
        }
        assertArrayEquals(e, Sampler.probabilities(LOGITS, params(t, 0, 1, 1)), 1e-12);
        // top-2 keeps tokens 1 and 2
        double two = e[1] + e[2];
        assertArrayEquals(new double[] {0, e[1] / two, e[2] / two, 0, 0}, Sampler.probabilities(LOGITS,
                params(t, 2, 1, 1)), 1e-12);
        // top-p just above p(token 1): the token crossing p is kept, so tokens 1 and 2
        assertArrayEquals(new double[] {0, e[1] / two, e[2] / two, 0, 0}, Sampler.probabilities(LOGITS,
                params(t, 0, e[1] + 1e-9, 1)), 1e-12);
        // top-p below p(token 1): only token 1
        assertArrayEquals(new double[] {0, 1, 0, 0, 0}, Sampler.probabilities(LOGITS, params(t, 0, e[1] / 2, 1)),
                1e-12);
    }

    /** 200,000 draws match the distribution (each frequency within 5 standard errors) and a seed repeats. */
    @Test
    void drawsFollowTheDistributionAndSeedsRepeat() {
        SamplingParams p = params(0.8, 4, 0.95, 42);
        double[] expected = Sampler.probabilities(LOGITS, p);
        Sampler sampler = new Sampler(p);
        int n = 200_000;
        int[] counts = new int[LOGITS.length];
        for (int i = 0; i < n; i++) {
            counts[sampler.next(LOGITS)]++;
        }
        for (int i = 0; i < counts.length; i++) {
            double se = Math.sqrt(n * expected[i] * (1 - expected[i])) + 1e-9;
            assertTrue(Math.abs(counts[i] - n * expected[i]) <= 5 * se + (expected[i] == 0 ? 0 : 1),
                    "token " + i + ": " + counts[i] + " draws, expected " + n * expected[i]);
        }
        Sampler a = new Sampler(p);
        Sampler b = new Sampler(p);
        for (int i = 0; i < 100; i++) {
            assertEquals(a.next(LOGITS), b.next(LOGITS));
        }
    }

    @Test
    void logProbabilityIsLogSoftmax() {
        double s = 0;
        for (float z : LOGITS) {
            s += Math.exp(z);
        }
        assertEquals(LOGITS[2] - Math.log(s), Sampler.logProbability(LOGITS, 2), 1e-9);
    }

    @Test
    void badParametersAreNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> params(-1, 0, 1, 1)).getMessage()
                .contains("temperature"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> params(1, -2, 1, 1)).getMessage()
                .contains("top_k"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> params(1, 0, 0, 1)).getMessage()
                .contains("top_p"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 0, 1, null, 0, null))
                .getMessage().contains("max_tokens"));
    }
}
