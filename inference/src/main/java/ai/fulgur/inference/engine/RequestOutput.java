package ai.fulgur.inference.engine;

import java.util.List;

/**
 * What one engine step produced for one request: the current state of each of its completions (cumulative, so a
 * streaming client sends the part it has not sent yet).
 *
 * @param requestId the request
 * @param outputs   its completions, by index (for sampling with n; for beam search or best_of only once finished)
 * @param finished  whether the request is done and its KV blocks are free
 */
public record RequestOutput(String requestId, List<CompletionOutput> outputs, boolean finished) {
}
