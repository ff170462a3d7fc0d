package ai.fulgur.inference.engine;

import ai.fulgur.datasets.tokenizer.Tokenizer;
import ai.fulgur.inference.kvcache.BlockManager;
import ai.fulgur.inference.kvcache.PrefixHasher;
import ai.fulgur.inference.kvcache.Sequence;
import ai.fulgur.inference.kvcache.SequenceGroup;
import ai.fulgur.inference.runner.ModelRunner;
import ai.fulgur.inference.scheduler.ScheduledChunk;
import ai.fulgur.inference.scheduler.Scheduler;
import ai.fulgur.inference.scheduler.SchedulerOutput;
import ai.fulgur.training.gpt2.Gpt2Model;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The serving engine over a GPT-2 with a paged KV cache. One {@link #step()}:
 * <pre>
 *   plan    = scheduler.schedule()                 admit, preempt (swap or recompute), chunk prompts
 *   logits  = runner.execute(plan)                 swap out, swap in, copy-on-write, one batched forward
 *   scheduler.completeStep(plan)                   computed tokens; full blocks enter the prefix cache
 *   for each sequence with logits                  sample (or advance its beam search), append the token,
 *       stop token, stop string, max tokens, context → finish it and free its blocks
 *   return the requests that changed
 * </pre>
 * Requests of every kind (greedy, sampled, n parallel samples sharing the prompt's blocks, best_of, beam search)
 * share one batch. Not thread-safe (see {@link LlmEngine}).
 */
public final class PagedEngine implements LlmEngine {
    private final Gpt2Model model;
    private final Tokenizer tokenizer;
    private final EngineConfig config;
    private final BlockManager blocks;
    private final Scheduler scheduler;
    private final ModelRunner runner;
    private final Map<String, RequestState> requests = new LinkedHashMap<>();
    private final Map<SequenceGroup, RequestState> byGroup = new IdentityHashMap<>();
    private long arrivals;
    private long generatedTokens;
    private long promptTokens;

    /**
     * An engine over {@code model} (on the Fulgur engine, CPU or GPU).
     *
     * @param tokenizer decodes the completions' text and finds stop strings; null for token ids only (text stays
     *                  empty and stop strings are refused)
     */
    public PagedEngine(Gpt2Model model, Tokenizer tokenizer, EngineConfig config) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.config = config;
        this.blocks = new BlockManager(config.blockSize(), config.numDeviceBlocks(), config.numCpuBlocks(),
                config.prefixCaching(), config.prefixCaching() ? PrefixHasher.SHA_256 : null);
        this.scheduler = new Scheduler(config.schedulerConfig(), blocks);
        this.runner = new ModelRunner(model, blocks);
    }

    /** {@inheritDoc} */
    @Override
    public void add(CompletionRequest request) {
        check(request);
        SequenceGroup group = new SequenceGroup(request.id(), request.prompt(), request.params(), request.bestOf(),
                arrivals++);
        scheduler.add(group);
        RequestState state = new RequestState(request, group, tokenizer, contextLength());
        requests.put(request.id(), state);
        byGroup.put(group, state);
    }

    /** {@inheritDoc} */
    @Override
    public List<RequestOutput> step() {
        SchedulerOutput plan = scheduler.schedule();
        Set<RequestState> changed = new LinkedHashSet<>();
        for (SequenceGroup group : plan.ignored()) {
            RequestState r = byGroup.get(group);
            r.ignore();
            changed.add(r);
        }
        List<ModelRunner.SequenceLogits> logits = runner.execute(plan);
        scheduler.completeStep(plan);
        for (ScheduledChunk chunk : plan.chunks()) {
            int promptEnd = chunk.sequence().promptLength();
            promptTokens += Math.max(0, Math.min(chunk.start() + chunk.numTokens(), promptEnd) - chunk.start());
        }
        Map<Sequence, RequestState> owners = owners();
        for (ModelRunner.SequenceLogits l : logits) {
            RequestState r = owners.get(l.sequence());
            generatedTokens += r.onLogits(l.sequence(), l.logits(), scheduler);
            changed.add(r);
        }
        List<RequestOutput> outputs = new ArrayList<>();
        for (RequestState r : changed) {
            RequestOutput out = r.output();
            if (out != null) {
                outputs.add(out);
            }
            if (r.finished()) {
                requests.remove(r.id());
                byGroup.remove(r.group());
            }
        }
        return outputs;
    }

    /** The request of each live sequence. */
    private Map<Sequence, RequestState> owners() {
        Map<Sequence, RequestState> owners = new IdentityHashMap<>();
        for (RequestState r : requests.values()) {
            for (Sequence seq : r.group().sequences()) {
                owners.put(seq, r);
            }
        }
        return owners;
    }

    /** {@inheritDoc} */
    @Override
    public boolean abort(String requestId) {
        RequestState r = requests.remove(requestId);
        if (r == null) {
            return false;
        }
        byGroup.remove(r.group());
        scheduler.abort(requestId);
        return true;
    }

    /** {@inheritDoc} */
    @Override
    public boolean hasUnfinished() {
        return !requests.isEmpty();
    }

    /** {@inheritDoc} */
    @Override
    public int contextLength() {
        return model.getConfig().nPositions();
    }

    /** {@inheritDoc} */
    @Override
    public EngineStats stats() {
        return new EngineStats(scheduler.running().size(), scheduler.waiting().size(), scheduler.swapped().size(),
                blocks.usage(), blocks.numFreeCpuBlocks(), generatedTokens, promptTokens);
    }

    /** The block manager (for tests and metrics: read it, do not change it). */
    public BlockManager blockManager() {
        return blocks;
    }

    /** The settings. */
    public EngineConfig config() {
        return config;
    }

    /** {@inheritDoc} Aborts what is live and frees the pools. */
    @Override
    public void close() {
        for (String id : List.copyOf(requests.keySet())) {
            abort(id);
        }
        runner.close();
    }

    private void check(CompletionRequest r) {
        if (r == null) {
            throw new IllegalArgumentException("request is null");
        }
        if (r.id() == null || r.id().isEmpty()) {
            throw new IllegalArgumentException("request id must be a non-empty string, got " + (r.id() == null
                    ? "null" : "\"\""));
        }
        if (requests.containsKey(r.id())) {
            throw new IllegalArgumentException("request id " + r.id() + " is already live; ids must be unique among "
                    + "unfinished requests");
        }
        int context = contextLength();
        int vocab = model.getConfig().vocabSize();
        if (r.prompt() == null || r.prompt().length == 0) {
            throw new IllegalArgumentException("request " + r.id() + ": the prompt is empty; give at least one token");
        }
        if (r.prompt().length >= context) {
            throw new IllegalArgumentException("request " + r.id() + ": the prompt has " + r.prompt().length
                    + " tokens but the model's context is " + context + "; it must be shorter to leave room for "
                    + "generated tokens");
        }
        for (int i = 0; i < r.prompt().length; i++) {
            if (r.prompt()[i] < 0 || r.prompt()[i] >= vocab) {
                throw new IllegalArgumentException("request " + r.id() + ": prompt token " + r.prompt()[i]
                        + " at position " + i + " is outside the model's vocabulary [0, " + vocab + ")");
            }
        }
        if (r.params() == null) {
            throw new IllegalArgumentException("request " + r.id() + ": sampling params are null");
        }
        if (r.n() < 1) {
            throw new IllegalArgumentException("request " + r.id() + ": n must be >= 1, got " + r.n());
        }
        if (r.bestOf() < r.n()) {
            throw new IllegalArgumentException("request " + r.id() + ": best_of (" + r.bestOf() + ") must be >= n ("
                    + r.n() + ")");
        }
        if (r.bestOf() > config.maxSequences()) {
            throw new IllegalArgumentException("request " + r.id() + ": best_of " + r.bestOf() + " sequences (beam "
                    + "width with beam search) exceed the engine's " + config.maxSequences() + " sequences a step");
        }
        if (r.logprobs() < -1 || r.logprobs() > vocab) {
            throw new IllegalArgumentException("request " + r.id() + ": logprobs must be -1 (none), 0 (the chosen "
                    + "token) or up to the vocabulary size " + vocab + ", got " + r.logprobs());
        }
        if (r.stop() != null) {
            for (String s : r.stop()) {
                if (s == null || s.isEmpty()) {
                    throw new IllegalArgumentException("request " + r.id() + ": stop strings must be non-empty, got "
                            + (s == null ? "null" : "\"\"") + " in " + r.stop());
                }
            }
            if (!r.stop().isEmpty() && tokenizer == null) {
                throw new IllegalArgumentException("request " + r.id() + ": stop strings " + r.stop() + " need a "
                        + "tokenizer, and this engine has none");
            }
        }
    }
}
