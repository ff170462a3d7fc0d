package ai.fulgur.inference.engine;

import java.util.List;

/**
 * The serving engine: a paged KV cache, the continuous-batching {@link ai.fulgur.inference.scheduler.Scheduler}, a
 * no-grad model runner and the sampler, driven one iteration at a time by {@link #step()}. Not thread-safe: one
 * thread drives it (the server's engine loop); others hand it requests through that thread.
 */
public interface LlmEngine extends AutoCloseable {

    /**
     * Queues a request. Throws IllegalArgumentException naming the bad value (duplicate id, empty or over-long
     * prompt, bestOf < n, ...) and keeps nothing of a rejected request.
     */
    void add(CompletionRequest request);

    /**
     * Runs one iteration (swaps, copies, one batched forward of the scheduled prefill chunks and decodes, sampling)
     * and returns the requests that changed: new tokens or finished. Finished requests have freed their blocks.
     */
    List<RequestOutput> step();

    /** Cancels a live request and frees its blocks; false if no such request is live. */
    boolean abort(String requestId);

    /** Whether any request is queued, running or swapped. */
    boolean hasUnfinished();

    /** The model's context length (prompt plus generated tokens). */
    int contextLength();

    /** The current load. */
    EngineStats stats();

    /** Frees the KV pools. */
    @Override
    void close();
}
