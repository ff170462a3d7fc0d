package ai.fulgur.inference.server;

import java.util.List;

/**
 * A {@code POST /v1/completions} body after parsing and range checks (the checks that need the tokenizer or the
 * context length are the handler's).
 *
 * @param model         the model name the client asked for, or null
 * @param promptText    the prompt as text, or null when given as token ids
 * @param promptTokens  the prompt as token ids, or null when given as text
 * @param maxTokens     tokens to generate at most, ≥ 1
 * @param temperature   ≥ 0 (0: greedy)
 * @param topP          in (0, 1]
 * @param topK          ≥ 0 (0: no limit)
 * @param n             completions returned, ≥ 1
 * @param bestOf        candidates generated, ≥ n
 * @param beamSearch    beam search of width bestOf (vLLM's use_beam_search)
 * @param seed          sampling seed, or null
 * @param stop          stop strings (possibly empty)
 * @param logprobs      top alternatives reported per token (0 … 5), or null for no log-probabilities
 * @param stream        answer as server-sent events
 * @param includeUsage  a final stream chunk carries the token usage (stream_options.include_usage)
 */
public record CompletionParams(String model, String promptText, int[] promptTokens, int maxTokens, double temperature,
        double topP, int topK, int n, int bestOf, boolean beamSearch, Long seed, List<String> stop, Integer logprobs,
        boolean stream, boolean includeUsage) {
}
