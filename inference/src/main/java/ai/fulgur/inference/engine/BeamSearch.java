package ai.fulgur.inference.engine;

import ai.fulgur.datasets.tokenizer.Tokenizer;
import ai.fulgur.inference.kvcache.Sequence;
import ai.fulgur.inference.kvcache.SequenceGroup;
import ai.fulgur.inference.kvcache.SequenceStatus;
import ai.fulgur.inference.sampling.SamplingParams;
import ai.fulgur.inference.scheduler.Scheduler;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Beam search over the paged cache for one request, as Hugging Face's beam search (no sampling, length_penalty 1.0,
 * early_stopping=True). The W = bestOf running beams are sequences of the request's group; a beam chosen k times
 * forks k − 1 children that share its blocks (copy-on-write on the last one), a beam not chosen is freed.
 *
 * <p>One step, once every running beam has its next-token logits:
 * <ol>
 *   <li>candidates: (beam, token) with score = the beam's cumulative log-probability + log softmax(logits)[token];
 *       the 2·W best overall, best first (ties: lower beam, then lower token);</li>
 *   <li>walking them in order, a stop token at rank &lt; W ends a hypothesis (the beam plus that token) with score
 *       cumulative / generated length (the stop token counted); a stop token at rank ≥ W is skipped; any other token
 *       makes a new beam, until W new beams;</li>
 *   <li>the W best hypotheses are kept; the search ends once there are W of them (early stopping), or when the new
 *       beams reach max tokens or the model's context, in which case each new beam becomes a hypothesis too.</li>
 * </ol>
 * The n best hypotheses by score are the completions (their cumulativeLogprob is the unnormalised sum). Beam search
 * ignores temperature, top-k, top-p and the seed; stop strings cut the final texts but do not end beams.
 */
final class BeamSearch {
    /** A finished candidate: a completion and its length-normalised score. */
    private record Hypothesis(CompletionState completion, double score) {
    }

    /** One (beam, token) continuation. */
    private record Candidate(int beam, int token, double score, double[] logprobs) {
    }

    private final SequenceGroup group;
    private final SamplingParams params;
    private final int width;
    private final int contextLength;
    private final List<CompletionState> beams = new ArrayList<>();
    private final List<Hypothesis> hypotheses = new ArrayList<>();
    private final Map<Sequence, float[]> pending = new IdentityHashMap<>();
    private boolean done;

    /** A search of width {@code width} from the group's prompt sequence. */
    BeamSearch(SequenceGroup group, int width, int topLogprobs, int contextLength) {
        this.group = group;
        this.params = group.params();
        this.width = width;
        this.contextLength = contextLength;
        beams.add(new CompletionState(group.sequences().getFirst(), null, topLogprobs, null));
    }

    boolean done() {
        return done;
    }

    /**
     * Takes one running beam's next-token logits; once every running beam has them, makes one step.
     *
     * @return tokens appended to sequences
     */
    int offer(Sequence seq, float[] logits, Scheduler scheduler) {
        pending.put(seq, logits);
        if (pending.size() < beams.size()) {
            return 0; // a recomputed beam whose siblings are still catching up
        }
        List<Candidate> candidates = new ArrayList<>();
        for (int b = 0; b < beams.size(); b++) {
            double[] lp = TokenScores.logSoftmax(pending.get(beams.get(b).sequence()), 1);
            for (int token : TokenScores.top(lp, 2 * width)) {
                candidates.add(new Candidate(b, token, beams.get(b).cumulativeLogprob() + lp[token], lp));
            }
        }
        pending.clear();
        candidates.sort(Comparator.comparingDouble(Candidate::score).reversed()
                .thenComparingInt(Candidate::beam).thenComparingInt(Candidate::token));
        List<Candidate> next = new ArrayList<>();
        for (int rank = 0; rank < Math.min(2 * width, candidates.size()) && next.size() < width; rank++) {
            Candidate c = candidates.get(rank);
            if (params.isStop(c.token())) {
                if (rank < width) {
                    CompletionState ended = beams.get(c.beam()).forkInto(null);
                    ended.add(c.token(), c.logprobs());
                    ended.finish("stop");
                    addHypothesis(ended);
                }
            } else {
                next.add(c);
            }
        }
        int newLength = beams.getFirst().length() + 1;
        int promptLength = beams.getFirst().sequence().promptLength();
        boolean full = newLength >= params.maxTokens() || promptLength + newLength >= contextLength;
        boolean enough = hypotheses.size() >= width; // early stopping: W hypotheses end the search
        if (!enough && full) {
            for (Candidate c : next) { // ended by length: the running beams are hypotheses too (HF's finalize)
                CompletionState ended = beams.get(c.beam()).forkInto(null);
                ended.add(c.token(), c.logprobs());
                ended.finish("length");
                addHypothesis(ended);
            }
        }
        if (enough || full || next.isEmpty()) {
            for (CompletionState beam : beams) {
                scheduler.finish(group, beam.sequence(), SequenceStatus.FINISHED_STOPPED);
            }
            beams.clear();
            done = true;
            return 0;
        }
        return advance(next, scheduler);
    }

    /** Makes the chosen continuations the running beams: forks for extra children, frees unchosen beams. */
    private int advance(List<Candidate> next, Scheduler scheduler) {
        boolean[] chosen = new boolean[beams.size()];
        List<CompletionState> newBeams = new ArrayList<>();
        CompletionState[] continued = new CompletionState[next.size()];
        // forks first: a child copies its parent's tokens before the parent takes its own new token
        for (int i = 0; i < next.size(); i++) {
            Candidate c = next.get(i);
            CompletionState parent = beams.get(c.beam());
            if (chosen[c.beam()]) {
                Sequence child = scheduler.fork(group, parent.sequence());
                continued[i] = parent.forkInto(child);
            }
            chosen[c.beam()] = true;
        }
        Arrays.fill(chosen, false);
        for (int i = 0; i < next.size(); i++) {
            Candidate c = next.get(i);
            CompletionState beam = continued[i] != null ? continued[i] : beams.get(c.beam());
            chosen[c.beam()] = true;
            beam.add(c.token(), c.logprobs());
            beam.sequence().appendToken(c.token());
            newBeams.add(beam);
        }
        for (int b = 0; b < beams.size(); b++) {
            if (!chosen[b]) {
                scheduler.finish(group, beams.get(b).sequence(), SequenceStatus.FINISHED_STOPPED);
            }
        }
        beams.clear();
        beams.addAll(newBeams);
        return newBeams.size();
    }

    private void addHypothesis(CompletionState completion) {
        double score = completion.cumulativeLogprob() / completion.length(); // length_penalty 1.0
        if (hypotheses.size() >= width && score <= hypotheses.getLast().score()) {
            return;
        }
        hypotheses.add(new Hypothesis(completion, score));
        hypotheses.sort(Comparator.comparingDouble(Hypothesis::score).reversed());
        if (hypotheses.size() > width) {
            hypotheses.removeLast();
        }
    }

    /** The {@code n} best hypotheses, best first, their texts cut at stop strings (the stop token not decoded). */
    List<CompletionOutput> outputs(int n, Tokenizer tokenizer, List<String> stops) {
        List<CompletionOutput> out = new ArrayList<>();
        for (int i = 0; i < Math.min(n, hypotheses.size()); i++) {
            CompletionState c = hypotheses.get(i).completion();
            int[] tokens = c.tokens();
            IncrementalDetokenizer text = new IncrementalDetokenizer(tokenizer, stops);
            int textTokens = "stop".equals(c.finishReason()) ? tokens.length - 1 : tokens.length;
            for (int t = 0; t < textTokens && !text.append(tokens[t]); t++) {
                // appended
            }
            text.flush();
            out.add(new CompletionOutput(i, tokens, text.text(), c.cumulativeLogprob(), c.logprobs(),
                    c.finishReason()));
        }
        return out;
    }
}
