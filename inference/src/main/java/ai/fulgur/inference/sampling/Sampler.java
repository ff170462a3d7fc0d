package ai.fulgur.inference.sampling;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Chooses tokens from logits by a {@link SamplingParams}, on the host: the logits of one position are V floats and
 * the work is O(V log V) at most, small next to the forward pass. One sampler serves one sequence; its generator is
 * seeded once, so a seeded request is reproducible.
 */
public final class Sampler {
    private final SamplingParams params;
    private final SplittableRandom random;

    /** A sampler for one sequence. */
    public Sampler(SamplingParams params) {
        this.params = params;
        this.random = params.seed() == null ? new SplittableRandom() : new SplittableRandom(params.seed());
    }

    /** The next token for {@code logits} (length V). */
    public int next(float[] logits) {
        if (logits.length == 0) {
            throw new IllegalArgumentException("logits are empty; expected one value per vocabulary entry");
        }
        if (params.isGreedy()) {
            return argMax(logits);
        }
        double[] p = probabilities(logits, params);
        double u = random.nextDouble();
        double cumulative = 0;
        int last = -1;
        for (int i = 0; i < p.length; i++) {
            if (p[i] > 0) {
                cumulative += p[i];
                last = i;
                if (u < cumulative) {
                    return i;
                }
            }
        }
        return last; // u within rounding of 1
    }

    /** The index of the largest logit (the first of equals); NaN logits are never chosen unless all are NaN. */
    public static int argMax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (!Float.isNaN(logits[i]) && (Float.isNaN(logits[best]) || logits[i] > logits[best])) {
                best = i;
            }
        }
        return best;
    }

    /**
     * The distribution a non-greedy {@code params} samples from: softmax(logits / T) restricted to the top-k and
     * then to the top-p nucleus (the most likely tokens whose probabilities sum to at least p; the token that crosses
     * p is kept), renormalised.
     */
    public static double[] probabilities(float[] logits, SamplingParams params) {
        int v = logits.length;
        double t = params.temperature();
        double max = Double.NEGATIVE_INFINITY;
        for (float z : logits) {
            max = Math.max(max, z);
        }
        double[] p = new double[v];
        double sum = 0;
        for (int i = 0; i < v; i++) {
            p[i] = Math.exp((logits[i] - max) / t);
            sum += p[i];
        }
        for (int i = 0; i < v; i++) {
            p[i] /= sum;
        }
        if ((params.topK() > 0 && params.topK() < v) || params.topP() < 1) {
            Integer[] order = new Integer[v];
            for (int i = 0; i < v; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
            int keep = params.topK() > 0 ? Math.min(params.topK(), v) : v;
            if (params.topP() < 1) {
                double kept = 0;
                double total = 0;
                for (int r = 0; r < keep; r++) {
                    total += p[order[r]];
                }
                for (int r = 0; r < keep; r++) {
                    kept += p[order[r]];
                    if (kept >= params.topP() * total) {
                        keep = r + 1;
                        break;
                    }
                }
            }
            double[] restricted = new double[v];
            double restrictedSum = 0;
            for (int r = 0; r < keep; r++) {
                restricted[order[r]] = p[order[r]];
                restrictedSum += p[order[r]];
            }
            for (int i = 0; i < v; i++) {
                restricted[i] /= restrictedSum;
            }
            return restricted;
        }
        return p;
    }

    /** log softmax(logits)[token]: the log-probability the model gave the token (before any restriction). */
    public static double logProbability(float[] logits, int token) {
        double max = Double.NEGATIVE_INFINITY;
        for (float z : logits) {
            max = Math.max(max, z);
        }
        double sum = 0;
        for (float z : logits) {
            sum += Math.exp(z - max);
        }
        return logits[token] - max - Math.log(sum);
    }
}
