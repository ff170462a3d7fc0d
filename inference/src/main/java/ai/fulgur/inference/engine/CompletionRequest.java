package ai.fulgur.inference.engine;

import ai.fulgur.inference.sampling.SamplingParams;
import java.util.List;

/**
 * One completion request as the engine takes it (already tokenized and validated by the caller, e.g. the server).
 *
 * @param id            unique among live requests
 * @param prompt        prompt token ids, ≥ 1 token and shorter than the model's context
 * @param params        sampling, max tokens and stop token ids
 * @param n             completions returned, ≥ 1
 * @param bestOf        candidates generated (≥ n); the n best by cumulative log-probability are returned
 * @param beamSearch    beam search with beam width bestOf instead of sampling
 * @param logprobs      how many top alternatives to report per generated token (0: only the chosen token's; -1:
 *                      none)
 * @param stop          stop strings: generation of a completion ends when its text contains one (the text is cut
 *                      before it)
 */
public record CompletionRequest(String id, int[] prompt, SamplingParams params, int n, int bestOf,
        boolean beamSearch, int logprobs, List<String> stop) {
}
