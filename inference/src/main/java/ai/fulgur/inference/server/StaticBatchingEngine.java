package ai.fulgur.inference.server;

import ai.fulgur.inference.engine.CompletionRequest;
import ai.fulgur.inference.engine.EngineStats;
import ai.fulgur.inference.engine.LlmEngine;
import ai.fulgur.inference.engine.RequestOutput;
import ai.fulgur.inference.kvcache.KvUsage;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;

/**
 * The static-batching baseline for the load test: the same engine, but requests are admitted in fixed batches of
 * up to {@code batchSize}, and a batch runs to completion (every request of it finished) before the next one starts,
 * as in request-level batching. Requests that arrive meanwhile wait here. A thin driver over any {@link LlmEngine};
 * the engine's scheduler is untouched, it just never sees more than one batch.
 */
public final class StaticBatchingEngine implements LlmEngine {
    private final LlmEngine engine;
    private final int batchSize;
    private final Deque<CompletionRequest> held = new ArrayDeque<>();

    /** @param batchSize requests per batch, ≥ 1 */
    public StaticBatchingEngine(LlmEngine engine, int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        this.engine = engine;
        this.batchSize = batchSize;
    }

    @Override
    public void add(CompletionRequest request) {
        for (CompletionRequest r : held) {
            if (r.id().equals(request.id())) {
                throw new IllegalArgumentException("duplicate request id " + request.id());
            }
        }
        held.addLast(request);
    }

    @Override
    public List<RequestOutput> step() {
        List<RequestOutput> outputs = new ArrayList<>();
        if (!engine.hasUnfinished()) {
            // The previous batch is done: the next one is whatever has arrived, up to batchSize.
            for (int added = 0; added < batchSize && !held.isEmpty();) {
                CompletionRequest r = held.pollFirst();
                try {
                    engine.add(r);
                    added++;
                } catch (IllegalArgumentException e) {
                    // add() had to accept it before the engine saw it; report it ended, with no completion
                    outputs.add(new RequestOutput(r.id(), List.of(), true));
                }
            }
        }
        if (engine.hasUnfinished()) {
            outputs.addAll(engine.step());
        }
        return outputs;
    }

    @Override
    public boolean abort(String requestId) {
        for (Iterator<CompletionRequest> it = held.iterator(); it.hasNext();) {
            if (it.next().id().equals(requestId)) {
                it.remove();
                return true;
            }
        }
        return engine.abort(requestId);
    }

    @Override
    public boolean hasUnfinished() {
        return !held.isEmpty() || engine.hasUnfinished();
    }

    @Override
    public int contextLength() {
        return engine.contextLength();
    }

    @Override
    public EngineStats stats() {
        EngineStats s = engine.stats();
        KvUsage kv = s.deviceKv();
        return new EngineStats(s.running(), s.waiting() + held.size(), s.swapped(), kv, s.freeCpuBlocks(),
                s.generatedTokens(), s.promptTokens());
    }

    @Override
    public void close() {
        held.clear();
        engine.close();
    }
}
