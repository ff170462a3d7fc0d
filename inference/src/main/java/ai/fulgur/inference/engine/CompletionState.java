package ai.fulgur.inference.engine;

import ai.fulgur.inference.kvcache.Sequence;
import ai.fulgur.inference.sampling.Sampler;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What the engine knows of one completion (a sample, or a beam) while it is generated: its sequence in the
 * scheduler, its sampler, the generated tokens with their log-probabilities, its text and why it ended.
 */
final class CompletionState {
    private final Sequence sequence;
    private final Sampler sampler;
    private final int topLogprobs;
    private final IncrementalDetokenizer text;
    private int[] tokens;
    private int length;
    private final List<TokenLogprob> logprobs;
    private double cumulativeLogprob;
    private String finishReason;

    /**
     * @param sequence    its sequence
     * @param sampler     its sampler (null for a beam: the beam search picks the tokens)
     * @param topLogprobs alternatives to report per token, or -1 to report no log-probabilities
     * @param text        its detokenizer (null for a beam: its text is made once the search ends)
     */
    CompletionState(Sequence sequence, Sampler sampler, int topLogprobs, IncrementalDetokenizer text) {
        this.sequence = sequence;
        this.sampler = sampler;
        this.topLogprobs = topLogprobs;
        this.text = text;
        this.tokens = new int[16];
        this.logprobs = topLogprobs < 0 ? null : new ArrayList<>();
    }

    /** A beam forked from this one into {@code child}: the same tokens and scores so far. */
    CompletionState forkInto(Sequence child) {
        CompletionState c = new CompletionState(child, null, topLogprobs, null);
        c.tokens = tokens.clone();
        c.length = length;
        if (logprobs != null) {
            c.logprobs.addAll(logprobs);
        }
        c.cumulativeLogprob = cumulativeLogprob;
        return c;
    }

    Sequence sequence() {
        return sequence;
    }

    Sampler sampler() {
        return sampler;
    }

    IncrementalDetokenizer text() {
        return text;
    }

    /** Records a generated token whose position had log-probabilities {@code logprobs} (log softmax, all V). */
    void add(int token, double[] positionLogprobs) {
        if (length == tokens.length) {
            tokens = Arrays.copyOf(tokens, length * 2);
        }
        tokens[length++] = token;
        cumulativeLogprob += positionLogprobs[token];
        if (logprobs != null) {
            logprobs.add(TokenScores.logprob(positionLogprobs, token, topLogprobs));
        }
    }

    /** Generated tokens. */
    int length() {
        return length;
    }

    int[] tokens() {
        return Arrays.copyOf(tokens, length);
    }

    double cumulativeLogprob() {
        return cumulativeLogprob;
    }

    String finishReason() {
        return finishReason;
    }

    boolean finished() {
        return finishReason != null;
    }

    /** Ends the completion ("stop" or "length"); its held text is flushed. */
    void finish(String reason) {
        finishReason = reason;
        if (text != null) {
            text.flush();
        }
    }

    /** The log-probabilities reported so far, or null when none were asked for. */
    List<TokenLogprob> logprobs() {
        return logprobs == null ? null : List.copyOf(logprobs);
    }

    /** Its state as the API reports it, under {@code index}. */
    CompletionOutput output(int index) {
        return new CompletionOutput(index, tokens(), text == null ? "" : text.text(), cumulativeLogprob,
                logprobs == null ? null : List.copyOf(logprobs), finishReason);
    }
}
