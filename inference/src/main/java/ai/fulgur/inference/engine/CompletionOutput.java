package ai.fulgur.inference.engine;

import java.util.List;

/**
 * The state of one completion of a request after an engine step.
 *
 * @param index              0 … n − 1 within the request
 * @param tokens             every token generated so far (not the prompt)
 * @param text               their text, cut before a stop string that was hit
 * @param cumulativeLogprob  sum of the generated tokens' log-probabilities
 * @param logprobs           one entry per generated token, or null when the request asked for none
 * @param finishReason       null while running; "stop" (stop token or string), "length" (max tokens or context) or
 *                           "abort"
 */
public record CompletionOutput(int index, int[] tokens, String text, double cumulativeLogprob,
        List<TokenLogprob> logprobs, String finishReason) {

    /** Whether this completion has ended. */
    public boolean finished() {
        return finishReason != null;
    }
}
