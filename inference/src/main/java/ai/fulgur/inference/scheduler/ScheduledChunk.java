package ai.fulgur.inference.scheduler;

import ai.fulgur.inference.kvcache.Sequence;

/**
 * Tokens [start, start + numTokens) of one sequence, computed this step. A prefill chunk covers prompt (or, after
 * recomputation, earlier output) tokens; a decode is the single last token.
 *
 * @param sequence  the sequence
 * @param start     its computed-token count when scheduled
 * @param numTokens ≥ 1
 * @param samples   whether the chunk ends at the sequence's last token, so its logits give the next token
 */
public record ScheduledChunk(Sequence sequence, int start, int numTokens, boolean samples) {

    /** Whether this computes only the newest token. */
    public boolean isDecode() {
        return numTokens == 1 && start == sequence.tokenCount() - 1 && start >= sequence.promptLength();
    }
}
