package ai.fulgur.inference.server;

import ai.fulgur.inference.engine.CompletionOutput;
import ai.fulgur.inference.engine.CompletionRequest;
import ai.fulgur.inference.engine.LlmEngine;
import ai.fulgur.inference.engine.RequestOutput;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one thread that owns an {@link LlmEngine}: it runs {@link LlmEngine#step()} while any request is unfinished and
 * parks when there is none. Other threads hand it requests ({@link #submit}) and cancellations ({@link #cancel})
 * through a command queue, and receive each request's outputs through its {@link Sink}, called on the loop thread.
 *
 * <p>Admission is bounded: at most {@code maxQueued} requests may be accepted and not yet have produced a token
 * (queued here or in the scheduler, or in prefill; best_of and beam-search requests, whose completions are only shown
 * at the end, count until they finish); {@link #submit} refuses more, which the server answers with 503. Requests
 * that are generating do not count: how many run at once is the scheduler's business (its token and sequence
 * budgets and the KV pool).
 * {@link #shutdown} stops admission, lets the live requests finish until a deadline, aborts the rest and closes the
 * engine.
 */
public final class EngineLoop implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(EngineLoop.class.getName());

    /** Receives one request's outputs, on the loop thread; implementations must not block. */
    public interface Sink {
        /** The request's state after a step that changed it; {@code output.finished()} is the last call. */
        void onOutput(RequestOutput output);

        /** The request ended without a normal finish: rejected by the engine, engine failure, or shutdown. */
        void onFailure(RuntimeException error);
    }

    /** The engine failed (a step threw, or the loop crashed): the requests it held end with this. */
    public static final class EngineFailure extends RuntimeException {
        EngineFailure(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static final class Live {
        final Sink sink;
        final long admittedNanos;
        long lastTokenNanos = -1;
        int tokens;
        boolean countedInQueue = true;

        Live(Sink sink, long admittedNanos) {
            this.sink = sink;
            this.admittedNanos = admittedNanos;
        }
    }

    private final LlmEngine engine;
    private final int maxQueued;
    private final int contextLength;
    private final ServingMetrics metrics;
    private final LinkedBlockingQueue<Runnable> commands = new LinkedBlockingQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final Map<String, Live> live = new HashMap<>(); // loop thread only
    private final Thread thread;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean accepting = true;
    private volatile long drainDeadlineNanos = Long.MAX_VALUE;
    private volatile boolean stopRequested;
    private volatile Throwable crash;

    /**
     * @param engine    the engine; from now on only the loop thread calls it
     * @param maxQueued admission bound, ≥ 1
     * @param metrics   where load, tokens and latencies are recorded
     */
    public EngineLoop(LlmEngine engine, int maxQueued, ServingMetrics metrics) {
        if (maxQueued < 1) {
            throw new IllegalArgumentException("maxQueued must be >= 1, got " + maxQueued);
        }
        this.engine = engine;
        this.maxQueued = maxQueued;
        this.metrics = metrics;
        this.contextLength = engine.contextLength(); // constant; read before the loop thread owns the engine
        metrics.publish(engine.stats(), false);
        this.thread = Thread.ofPlatform().name("fulgur-engine-loop").daemon(true).unstarted(this::run);
    }

    /** Starts the loop thread. */
    public EngineLoop start() {
        thread.start();
        return this;
    }

    /** The model's context length. */
    public int contextLength() {
        return contextLength;
    }

    /** The admission bound. */
    public int maxQueued() {
        return maxQueued;
    }

    /** Requests accepted that have not produced a token yet. */
    public int queued() {
        return queued.get();
    }

    /** Whether the loop thread runs and has not failed. */
    public boolean alive() {
        return thread.isAlive() && crash == null && !stopRequested;
    }

    /** The metrics this loop feeds. */
    public ServingMetrics metrics() {
        return metrics;
    }

    /**
     * Hands a request to the engine. Returns false, keeping nothing, when {@code maxQueued} requests are already
     * waiting for their first token; throws IllegalStateException after {@link #shutdown}. Whether the engine takes
     * it is told to the sink: {@link Sink#onFailure} with the engine's IllegalArgumentException if it does not.
     */
    public boolean submit(CompletionRequest request, Sink sink) {
        if (!accepting || !thread.isAlive()) {
            throw new IllegalStateException("the engine loop is " + (accepting ? "not running" : "shutting down"));
        }
        int q;
        do {
            q = queued.get();
            if (q >= maxQueued) {
                return false;
            }
        } while (!queued.compareAndSet(q, q + 1));
        metrics.admissionQueue(q + 1);
        long admitted = System.nanoTime();
        commands.add(() -> admit(request, sink, admitted));
        return true;
    }

    /** Cancels a request (e.g. its client went away): the engine aborts it and frees its blocks; its sink hears nothing more. */
    public void cancel(String requestId) {
        commands.add(() -> {
            Live l = live.remove(requestId);
            if (l != null) {
                leaveQueue(l);
                engine.abort(requestId);
                metrics.finished.inc("abort");
            }
        });
    }

    /** Runs {@code task} on the loop thread between steps and waits for it (tests, the load driver's snapshots). */
    public <T> T onLoopThread(Supplier<T> task) throws InterruptedException {
        CompletableFuture<T> result = new CompletableFuture<>();
        commands.add(() -> {
            try {
                result.complete(task.get());
            } catch (RuntimeException e) {
                result.completeExceptionally(e);
            }
        });
        try {
            return result.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw (RuntimeException) e.getCause();
        } catch (TimeoutException e) {
            throw new IllegalStateException("the engine loop did not answer within 30 s");
        }
    }

    private void admit(CompletionRequest request, Sink sink, long admittedNanos) {
        Live l = new Live(sink, admittedNanos);
        if (!accepting) {
            leaveQueue(l);
            sink.onFailure(new IllegalStateException("the server is shutting down"));
            return;
        }
        if (live.containsKey(request.id())) {
            leaveQueue(l);
            sink.onFailure(new IllegalArgumentException("request id " + request.id() + " is already live"));
            return;
        }
        try {
            engine.add(request);
        } catch (RuntimeException e) {
            leaveQueue(l);
            sink.onFailure(e);
            return;
        }
        live.put(request.id(), l);
    }

    private void leaveQueue(Live l) {
        if (l.countedInQueue) {
            l.countedInQueue = false;
            metrics.admissionQueue(queued.decrementAndGet());
        }
    }

    private void run() {
        try {
            while (true) {
                Runnable command;
                while ((command = commands.poll()) != null) {
                    command.run();
                }
                if (stopRequested && (!engine.hasUnfinished() || System.nanoTime() >= drainDeadlineNanos)) {
                    break;
                }
                if (!engine.hasUnfinished()) {
                    metrics.publish(engine.stats(), false);
                    command = commands.poll(1, TimeUnit.SECONDS); // parked until work arrives
                    if (command != null) {
                        command.run();
                    }
                    continue;
                }
                step();
            }
            abortAll(new IllegalStateException("the server shut down before this request finished"));
        } catch (InterruptedException e) {
            accepting = false;
            abortAll(new IllegalStateException("the engine loop was interrupted"));
        } catch (Throwable t) {
            crash = t;
            accepting = false;
            LOG.log(Level.SEVERE, "engine loop crashed", t);
            abortAll(new EngineFailure("the engine loop crashed: " + t, t));
        } finally {
            try {
                engine.close();
            } finally {
                stopped.countDown();
            }
        }
    }

    private void step() {
        List<RequestOutput> outputs;
        try {
            outputs = engine.step();
        } catch (RuntimeException e) {
            // The engine's state is suspect after a failed step: end every live request and keep serving new ones.
            LOG.log(Level.SEVERE, "engine step failed; aborting " + live.size() + " requests", e);
            abortAll(new EngineFailure("the engine failed: " + e, e));
            return;
        }
        long now = System.nanoTime();
        metrics.publish(engine.stats(), true);
        for (RequestOutput out : outputs) {
            Live l = live.get(out.requestId());
            if (l == null) {
                continue; // cancelled between the step and now
            }
            record(l, out, now);
            if (out.finished()) {
                live.remove(out.requestId());
            }
            try {
                l.sink.onOutput(out);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "sink of " + out.requestId() + " failed", e);
            }
        }
    }

    private void record(Live l, RequestOutput out, long now) {
        int tokens = 0;
        for (CompletionOutput c : out.outputs()) {
            tokens = Math.max(tokens, c.tokens().length);
        }
        if (tokens > l.tokens) {
            if (l.lastTokenNanos < 0) {
                metrics.timeToFirstToken.observe((now - l.admittedNanos) / 1e9);
                leaveQueue(l);
            } else {
                double perToken = (now - l.lastTokenNanos) / 1e9 / (tokens - l.tokens);
                for (int i = l.tokens; i < tokens; i++) {
                    metrics.timePerOutputToken.observe(perToken);
                }
            }
            l.lastTokenNanos = now;
            l.tokens = tokens;
        }
        if (out.finished()) {
            leaveQueue(l);
            metrics.endToEnd.observe((now - l.admittedNanos) / 1e9);
            for (CompletionOutput c : out.outputs()) {
                metrics.finished.inc(c.finishReason() == null ? "unknown" : c.finishReason());
            }
        }
    }

    private void abortAll(RuntimeException reason) {
        for (Map.Entry<String, Live> e : new ArrayList<>(live.entrySet())) {
            try {
                engine.abort(e.getKey());
            } catch (RuntimeException ignored) {
                // the engine may be broken; the request ends either way
            }
            leaveQueue(e.getValue());
            metrics.finished.inc("abort");
            e.getValue().sink.onFailure(reason);
        }
        live.clear();
        Runnable command;
        while ((command = commands.poll()) != null) {
            command.run(); // admits fail (accepting is false or the loop is ending); cancels find nothing
        }
        try {
            metrics.publish(engine.stats(), false);
        } catch (RuntimeException ignored) {
            // stats of a broken engine: keep the last ones
        }
    }

    /**
     * Stops admission, lets live requests run for up to {@code drain}, aborts what is left (their sinks hear
     * onFailure), closes the engine, and waits for the loop thread to end.
     */
    public void shutdown(Duration drain) throws InterruptedException {
        accepting = false;
        drainDeadlineNanos = System.nanoTime() + drain.toNanos();
        stopRequested = true;
        commands.add(() -> { }); // wake a parked loop
        if (thread.isAlive()) {
            stopped.await();
        } else if (thread.getState() == Thread.State.NEW) {
            engine.close();
        }
    }

    /** {@link #shutdown} with no drain time: live requests are aborted. */
    @Override
    public void close() {
        try {
            shutdown(Duration.ZERO);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The failure that stopped the loop, or null. */
    public Throwable crash() {
        return crash;
    }
}
