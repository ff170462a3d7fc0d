package ai.fulgur.inference.engine;

/**
 * The log-probability of one generated token and of the most likely alternatives at its position.
 *
 * @param token       the generated token
 * @param logprob     its log-probability under the model (after temperature, before top-k/top-p)
 * @param topTokens   the most likely tokens, most likely first (as many as the request's logprobs)
 * @param topLogprobs their log-probabilities
 */
public record TokenLogprob(int token, double logprob, int[] topTokens, double[] topLogprobs) {
}
