package ai.fulgur.inference.sampling;

/**
 * How the next token is chosen from the model's logits, with the meanings vLLM and Hugging Face give these names:
 * temperature 0 is greedy (the arg-max); otherwise the logits are divided by the temperature, restricted to the
 * {@code topK} most likely tokens (0: no limit) and then to the smallest set whose probability reaches {@code topP}
 * (1: no limit), renormalised, and sampled with a generator seeded by {@code seed} (null: a fresh random seed).
 *
 * @param temperature  ≥ 0
 * @param topK         ≥ 0
 * @param topP         in (0, 1]
 * @param seed         the request's seed, or null
 * @param maxTokens    the most tokens to generate, ≥ 1
 * @param stopTokenIds generation ends after producing one of these (e.g. end-of-text)
 */
public record SamplingParams(double temperature, int topK, double topP, Long seed, int maxTokens,
        int[] stopTokenIds) {

    /** Checks every value and names the bad one. */
    public SamplingParams {
        if (!(temperature >= 0) || !Double.isFinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be >= 0 (0 disables it), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max_tokens must be >= 1, got " + maxTokens);
        }
        stopTokenIds = stopTokenIds == null ? new int[0] : stopTokenIds.clone();
    }

    /** Greedy decoding of at most {@code maxTokens} tokens. */
    public static SamplingParams greedy(int maxTokens) {
        return new SamplingParams(0, 0, 1, null, maxTokens, null);
    }

    /** Whether this is greedy decoding. */
    public boolean isGreedy() {
        return temperature == 0;
    }

    /** Whether {@code token} ends generation. */
    public boolean isStop(int token) {
        for (int s : stopTokenIds) {
            if (s == token) {
                return true;
            }
        }
        return false;
    }

    /** The same with these stop tokens. */
    public SamplingParams withStopTokens(int... ids) {
        return new SamplingParams(temperature, topK, topP, seed, maxTokens, ids);
    }
}
