package ai.fulgur.inference.generate;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fulgur.inference.sampling.Sampler;
import ai.fulgur.inference.sampling.SamplingParams;
import ai.fulgur.training.gpt2.Gpt2Model;
import ai.fulgur.training.nn.KvCache;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Text generation from a GPT-2 with a plain (contiguous, per-request) KV cache: the prompt is run once, then one token
 * per step, each chosen by a {@link Sampler}. {@code n} samples of one prompt run as one batch. Generation of a
 * sequence ends at a stop token ("stop"), after max_tokens, or when the context is full ("length").
 */
public final class Generator {

    /** One generated continuation (without the prompt) and why it ended: "stop" or "length". */
    public record Completion(int[] tokens, String finishReason) {
    }

    private final Gpt2Model model;

    /** A generator over {@code model}. */
    public Generator(Gpt2Model model) {
        this.model = model;
    }

    /**
     * Generates {@code n} continuations of {@code prompt}. With a seed in {@code params}, sample i uses seed + i, so
     * a request is reproducible.
     */
    public List<Completion> generate(int[] prompt, SamplingParams params, int n) {
        check(prompt, n);
        int context = model.getConfig().nPositions();
        int budget = Math.min(params.maxTokens(), context - prompt.length);
        List<Sampler> samplers = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            samplers.add(new Sampler(params.seed() == null ? params : new SamplingParams(params.temperature(),
                    params.topK(), params.topP(), params.seed() + i, params.maxTokens(), params.stopTokenIds())));
        }
        int[][] out = new int[n][budget];
        int[] lengths = new int[n];
        String[] reasons = new String[n];
        try (NDManager scope = model.getManager().newSubManager()) {
            KvCache cache = model.newCache(scope, n);
            int[] batch = new int[n * prompt.length];
            for (int i = 0; i < n; i++) {
                System.arraycopy(prompt, 0, batch, i * prompt.length, prompt.length);
            }
            NDArray logits = model.prefill(scope.create(batch, new Shape(n, prompt.length)), cache);
            int active = n;
            for (int step = 0; step < budget && active > 0; step++) {
                float[] all = logits.toType(DataType.FLOAT32, false).toFloatArray();
                logits.close();
                int v = all.length / n;
                int[] next = new int[n];
                for (int i = 0; i < n; i++) {
                    if (reasons[i] != null) {
                        continue; // finished: its row keeps running in the batch but its tokens are dropped
                    }
                    int token = samplers.get(i).next(Arrays.copyOfRange(all, i * v, (i + 1) * v));
                    next[i] = token;
                    out[i][lengths[i]++] = token;
                    if (params.isStop(token)) {
                        reasons[i] = "stop";
                        active--;
                    }
                }
                if (active > 0 && step + 1 < budget) {
                    logits = model.decode(scope.create(next), cache);
                }
            }
        }
        List<Completion> completions = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            completions.add(new Completion(Arrays.copyOf(out[i], lengths[i]), reasons[i] == null ? "length"
                    : reasons[i]));
        }
        return completions;
    }

    private void check(int[] prompt, int n) {
        int context = model.getConfig().nPositions();
        int vocab = model.getConfig().vocabSize();
        if (n < 1) {
            throw new IllegalArgumentException("n must be >= 1, got " + n);
        }
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt is empty; give at least one token");
        }
        if (prompt.length >= context) {
            throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens but the model's context "
                    + "(n_positions) is " + context + "; it must be shorter to leave room for generated tokens");
        }
        for (int i = 0; i < prompt.length; i++) {
            if (prompt[i] < 0 || prompt[i] >= vocab) {
                throw new IllegalArgumentException("prompt token " + prompt[i] + " at position " + i
                        + " is outside the model's vocabulary [0, " + vocab + ")");
            }
        }
    }
}
