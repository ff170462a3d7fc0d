package ai.fulgur.inference.engine;

import java.util.Arrays;

/**
 * Log-probabilities of one position's tokens, in double: log softmax(logits / T), the numbers the engine reports
 * ({@link TokenLogprob}), accumulates per completion and ranks beams by. T is the request's temperature, or 1 for
 * greedy decoding and beam search (the model's own distribution).
 */
final class TokenScores {
    private TokenScores() {
    }

    /** log softmax(logits / temperature); a temperature of 0 (greedy) counts as 1. */
    static double[] logSoftmax(float[] logits, double temperature) {
        double t = temperature > 0 ? temperature : 1;
        double max = Double.NEGATIVE_INFINITY;
        for (float z : logits) {
            max = Math.max(max, z / t);
        }
        double sum = 0;
        for (float z : logits) {
            sum += Math.exp(z / t - max);
        }
        double log = max + Math.log(sum);
        double[] lp = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            lp[i] = logits[i] / t - log;
        }
        return lp;
    }

    /** The {@code k} most likely tokens, most likely first; ties go to the lower id. */
    static int[] top(double[] logprobs, int k) {
        Integer[] order = new Integer[logprobs.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> logprobs[a] != logprobs[b] ? Double.compare(logprobs[b], logprobs[a])
                : Integer.compare(a, b));
        int[] best = new int[Math.min(k, order.length)];
        for (int i = 0; i < best.length; i++) {
            best[i] = order[i];
        }
        return best;
    }

    /** The report of {@code token} with the {@code top} best alternatives. */
    static TokenLogprob logprob(double[] logprobs, int token, int top) {
        int[] best = top(logprobs, top);
        double[] bestLogprobs = new double[best.length];
        for (int i = 0; i < best.length; i++) {
            bestLogprobs[i] = logprobs[best[i]];
        }
        return new TokenLogprob(token, logprobs[token], best, bestLogprobs);
    }
}
