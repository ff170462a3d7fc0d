package ai.fulgur.inference.server;

import ai.fulgur.inference.engine.EngineStats;
import ai.fulgur.inference.kvcache.KvUsage;
import ai.fulgur.inference.server.metrics.Counter;
import ai.fulgur.inference.server.metrics.Histogram;
import ai.fulgur.inference.server.metrics.MetricsRegistry;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The serving metrics {@code GET /metrics} exposes: engine load and KV pool gauges (from the last
 * {@link EngineStats} the engine loop published), token counters (their rate is tokens/s), request outcomes, and
 * latency histograms (time to first token, time per output token, end to end). The engine loop and the HTTP handlers
 * feed it; it only records.
 */
public final class ServingMetrics {
    private static final EngineStats IDLE = new EngineStats(0, 0, 0, new KvUsage(0, 0, 0, 0, 0), 0, 0, 0);

    private final MetricsRegistry registry = new MetricsRegistry();
    private volatile EngineStats stats = IDLE;
    private volatile int admissionQueue;
    private final AtomicInteger peakKvUsed = new AtomicInteger();

    final Counter promptTokens;
    final Counter generationTokens;
    final Counter requests;
    final Counter finished;
    final Counter kvSlotsAllocated;
    final Counter kvSlotsFilled;
    final Counter engineSteps;
    final Histogram timeToFirstToken;
    final Histogram timePerOutputToken;
    final Histogram endToEnd;

    public ServingMetrics() {
        registry.gauge("fulgur_requests_running", "Requests being computed by the engine.", () -> stats.running());
        registry.gauge("fulgur_requests_waiting", "Requests queued in the engine's scheduler.", () -> stats.waiting());
        registry.gauge("fulgur_requests_swapped", "Requests preempted to CPU memory.", () -> stats.swapped());
        registry.gauge("fulgur_admission_queue_requests",
                "Requests accepted by the server that have not produced a token yet (bounded by --max-queue).",
                () -> admissionQueue);
        registry.gauge("fulgur_kv_blocks_total", "Blocks of the device KV pool.", () -> stats.deviceKv().totalBlocks());
        registry.gauge("fulgur_kv_blocks_used", "Device KV blocks referenced by a sequence.",
                () -> stats.deviceKv().usedBlocks());
        registry.gauge("fulgur_kv_blocks_free", "Device KV blocks not referenced (includes cached ones).",
                () -> stats.deviceKv().totalBlocks() - stats.deviceKv().usedBlocks());
        registry.gauge("fulgur_kv_blocks_cached", "Free device KV blocks still holding a cached prefix.",
                () -> stats.deviceKv().cachedFreeBlocks());
        registry.gauge("fulgur_kv_usage_ratio", "Used device KV blocks over the pool size.",
                () -> stats.deviceKv().utilisation());
        registry.gauge("fulgur_kv_waste_fraction",
                "Allocated KV token slots that hold no token, over allocated slots (now).",
                () -> stats.deviceKv().wasteFraction());
        registry.gauge("fulgur_cpu_swap_blocks_free", "Free blocks of the CPU swap pool.", () -> stats.freeCpuBlocks());
        promptTokens = registry.counter("fulgur_prompt_tokens_total", "Prompt tokens computed (prefix-cache hits "
                + "excluded).");
        generationTokens = registry.counter("fulgur_generation_tokens_total", "Tokens generated.");
        requests = registry.counter("fulgur_requests_total", "Completion requests answered, by HTTP status "
                + "(499: the client disconnected).", "status");
        finished = registry.counter("fulgur_requests_finished_total", "Completions ended, by finish reason.",
                "finish_reason");
        kvSlotsAllocated = registry.counter("fulgur_kv_slots_allocated_step_total",
                "Sum over engine steps of allocated KV token slots (with the filled total: the step-averaged waste).");
        kvSlotsFilled = registry.counter("fulgur_kv_slots_filled_step_total",
                "Sum over engine steps of KV token slots holding a token.");
        engineSteps = registry.counter("fulgur_engine_steps_total", "Engine iterations run.");
        double[] latency = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75,
                1, 2.5, 5, 7.5, 10, 20, 40, 80};
        timeToFirstToken = registry.histogram("fulgur_time_to_first_token_seconds",
                "Seconds from a request's admission to its first generated token.", latency);
        timePerOutputToken = registry.histogram("fulgur_time_per_output_token_seconds",
                "Seconds between successive generated tokens of a request.", latency);
        endToEnd = registry.histogram("fulgur_e2e_request_latency_seconds",
                "Seconds from a request's admission to its end.", latency);
    }

    /** The last engine statistics published. */
    public EngineStats stats() {
        return stats;
    }

    /** Called by the engine loop after each step (and when idle) with the engine's statistics. */
    void publish(EngineStats now, boolean stepped) {
        EngineStats before = stats;
        if (now.promptTokens() > before.promptTokens()) {
            promptTokens.add(now.promptTokens() - before.promptTokens());
        }
        if (now.generatedTokens() > before.generatedTokens()) {
            generationTokens.add(now.generatedTokens() - before.generatedTokens());
        }
        if (stepped) {
            engineSteps.inc();
            kvSlotsAllocated.add(now.deviceKv().allocatedSlots());
            kvSlotsFilled.add(now.deviceKv().filledSlots());
        }
        peakKvUsed.accumulateAndGet(now.deviceKv().usedBlocks(), Math::max);
        stats = now;
    }

    /** The most KV blocks used at once since the previous call (for the load test's intervals). */
    public int takePeakKvUsed() {
        return peakKvUsed.getAndSet(0);
    }

    void admissionQueue(int depth) {
        admissionQueue = depth;
    }

    /** Step-averaged KV waste since start: 1 − Σ filled / Σ allocated over engine steps (0 before any). */
    public double averageKvWaste() {
        double allocated = kvSlotsAllocated.value();
        return allocated == 0 ? 0 : 1 - kvSlotsFilled.value() / allocated;
    }

    /** Σ over engine steps of allocated KV slots (for a waste figure over an interval: difference two readings). */
    public double kvSlotsAllocatedTotal() {
        return kvSlotsAllocated.value();
    }

    /** Σ over engine steps of filled KV slots. */
    public double kvSlotsFilledTotal() {
        return kvSlotsFilled.value();
    }

    /** Tokens generated so far. */
    public double generationTokensTotal() {
        return generationTokens.value();
    }

    /** Counts one answered completion request. */
    public void countRequest(int status) {
        requests.inc(Integer.toString(status));
    }

    /** How many completion requests were answered with this status. */
    public double requestCount(int status) {
        return requests.value(Integer.toString(status));
    }

    /** The exposition text. */
    public String render() {
        return registry.render();
    }

    /** The registry, for servers that add their own families. */
    public MetricsRegistry registry() {
        return registry;
    }
}
