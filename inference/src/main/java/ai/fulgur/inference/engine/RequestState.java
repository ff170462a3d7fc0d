package ai.fulgur.inference.engine;

import ai.fulgur.datasets.tokenizer.Tokenizer;
import ai.fulgur.inference.kvcache.Sequence;
import ai.fulgur.inference.kvcache.SequenceGroup;
import ai.fulgur.inference.kvcache.SequenceStatus;
import ai.fulgur.inference.sampling.Sampler;
import ai.fulgur.inference.sampling.SamplingParams;
import ai.fulgur.inference.scheduler.Scheduler;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * One live request inside the engine: its sequence group and, per completion, the sampler and what was generated.
 * Sampling starts with the prompt's one sequence; when the prompt is computed the other bestOf − 1 samples fork from
 * it (sharing its blocks) and all bestOf sample their first token from the same logits, sample i with seed + i. Beam
 * search hands its logits to a {@link BeamSearch}.
 */
final class RequestState {
    private final CompletionRequest request;
    private final SequenceGroup group;
    private final Tokenizer tokenizer;
    private final int contextLength;
    private final List<CompletionState> samples = new ArrayList<>();
    private final Map<Sequence, CompletionState> bySequence = new IdentityHashMap<>();
    private final BeamSearch beams;
    private boolean ignored;

    RequestState(CompletionRequest request, SequenceGroup group, Tokenizer tokenizer, int contextLength) {
        this.request = request;
        this.group = group;
        this.tokenizer = tokenizer;
        this.contextLength = contextLength;
        this.beams = request.beamSearch() ? new BeamSearch(group, request.bestOf(), request.logprobs(),
                contextLength) : null;
    }

    SequenceGroup group() {
        return group;
    }

    String id() {
        return request.id();
    }

    /**
     * Takes the next-token logits of one of its sequences and generates from them (finishing completions that end).
     *
     * @return tokens generated
     */
    int onLogits(Sequence seq, float[] logits, Scheduler scheduler) {
        if (beams != null) {
            return beams.offer(seq, logits, scheduler);
        }
        if (samples.isEmpty()) {
            // the prompt is computed: the other samples fork from it now, before any of them takes a token
            samples.add(newSample(seq, 0));
            for (int i = 1; i < request.bestOf(); i++) {
                samples.add(newSample(scheduler.fork(group, seq), i));
            }
            for (CompletionState sample : samples) {
                sample(sample, logits, scheduler);
            }
            return samples.size();
        }
        sample(bySequence.get(seq), logits, scheduler);
        return 1;
    }

    private CompletionState newSample(Sequence seq, int index) {
        SamplingParams p = request.params();
        SamplingParams own = p.seed() == null ? p : new SamplingParams(p.temperature(), p.topK(), p.topP(),
                p.seed() + index, p.maxTokens(), p.stopTokenIds());
        CompletionState c = new CompletionState(seq, new Sampler(own), request.logprobs(),
                new IncrementalDetokenizer(tokenizer, stops()));
        bySequence.put(seq, c);
        return c;
    }

    private void sample(CompletionState c, float[] logits, Scheduler scheduler) {
        SamplingParams p = request.params();
        double[] logprobs = TokenScores.logSoftmax(logits, p.temperature());
        int token = c.sampler().next(logits);
        c.add(token, logprobs);
        Sequence seq = c.sequence();
        seq.appendToken(token);
        String reason = null;
        if (p.isStop(token) || c.text().append(token)) {
            reason = "stop"; // a stop token ends the completion without entering its text
        } else if (c.length() >= p.maxTokens() || seq.tokenCount() >= contextLength) {
            reason = "length";
        }
        if (reason != null) {
            c.finish(reason);
            scheduler.finish(group, seq, reason.equals("stop") ? SequenceStatus.FINISHED_STOPPED
                    : SequenceStatus.FINISHED_LENGTH);
        }
    }

    /** Marks the request rejected by the scheduler (its prompt needs more blocks than the pool has). */
    void ignore() {
        ignored = true;
    }

    /** Whether every completion has ended. */
    boolean finished() {
        if (ignored) {
            return true;
        }
        if (beams != null) {
            return beams.done();
        }
        return !samples.isEmpty() && samples.stream().allMatch(CompletionState::finished);
    }

    /** What to report after a step that touched this request, or null when nothing is reportable yet. */
    RequestOutput output() {
        boolean finished = finished();
        if (ignored) {
            List<CompletionOutput> none = new ArrayList<>();
            for (int i = 0; i < request.n(); i++) {
                none.add(new CompletionOutput(i, new int[0], "", 0, request.logprobs() < 0 ? null : List.of(),
                        "length"));
            }
            return new RequestOutput(id(), none, true);
        }
        if (beams != null) {
            return finished ? new RequestOutput(id(), beams.outputs(request.n(), tokenizer, stops()), true) : null;
        }
        if (samples.isEmpty()) {
            return null;
        }
        if (request.bestOf() > request.n()) {
            if (!finished) {
                return null; // which samples are returned is known only at the end
            }
            List<CompletionState> best = samples.stream()
                    .sorted(Comparator.comparingDouble(CompletionState::cumulativeLogprob).reversed())
                    .limit(request.n()).toList();
            List<CompletionOutput> out = new ArrayList<>();
            for (int i = 0; i < best.size(); i++) {
                out.add(best.get(i).output(i));
            }
            return new RequestOutput(id(), out, true);
        }
        List<CompletionOutput> out = new ArrayList<>();
        for (int i = 0; i < samples.size(); i++) {
            out.add(samples.get(i).output(i));
        }
        return new RequestOutput(id(), out, finished);
    }

    private List<String> stops() {
        return request.stop() == null ? List.of() : request.stop();
    }
}
