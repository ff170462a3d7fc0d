package ai.fulgur.inference.server;

import ai.fulgur.datasets.tokenizer.Tokenizer;
import ai.fulgur.inference.engine.CompletionOutput;
import ai.fulgur.inference.engine.CompletionRequest;
import ai.fulgur.inference.engine.EngineStats;
import ai.fulgur.inference.engine.LlmEngine;
import ai.fulgur.inference.engine.RequestOutput;
import ai.fulgur.inference.engine.TokenLogprob;
import ai.fulgur.inference.kvcache.KvUsage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A deterministic stand-in for the serving engine, for the server's tests: completion j of a request generates, at
 * position k, the letter {@code 'a' + (sum(prompt) + 7k + 3j) mod 26}, with log-probability {@code -(k + 1) / 10}.
 * It keeps a toy KV pool (blocks of {@link #BLOCK_SIZE} slots per sequence) so tests can see blocks taken and freed,
 * runs at most {@code maxRunning} requests per step, honours max tokens, stop tokens, stop strings, n and best_of
 * (the n best candidates by cumulative log-probability, returned at the end), and may sleep in each step.
 */
final class FakeEngine implements LlmEngine {
    static final int BLOCK_SIZE = 4;

    private final Tokenizer tokenizer;
    private final int contextLength;
    private final int totalBlocks;
    private final int maxRunning;
    private final long stepSleepMillis;
    private final Map<String, Live> waiting = new LinkedHashMap<>();
    private final Map<String, Live> running = new LinkedHashMap<>();
    private long generated;
    private long promptTokens;
    volatile int aborted;
    /** The next step throws, as a failing kernel would. */
    volatile boolean failNextStep;
    volatile int addedTotal;

    private static final class Live {
        final CompletionRequest request;
        final List<int[]> tokens = new ArrayList<>();
        final List<List<TokenLogprob>> logprobs = new ArrayList<>();
        final String[] finish;
        final double[] cumulative;

        Live(CompletionRequest request) {
            this.request = request;
            this.finish = new String[request.bestOf()];
            this.cumulative = new double[request.bestOf()];
            for (int j = 0; j < request.bestOf(); j++) {
                tokens.add(new int[0]);
                logprobs.add(new ArrayList<>());
            }
        }
    }

    FakeEngine(Tokenizer tokenizer, int contextLength, int totalBlocks, int maxRunning, long stepSleepMillis) {
        this.tokenizer = tokenizer;
        this.contextLength = contextLength;
        this.totalBlocks = totalBlocks;
        this.maxRunning = maxRunning;
        this.stepSleepMillis = stepSleepMillis;
    }

    /** The token completion {@code j} generates at position {@code k} for this prompt. */
    static int tokenAt(int[] prompt, int j, int k) {
        int sum = Arrays.stream(prompt).sum();
        return 'a' + Math.floorMod(sum + 7 * k + 3 * j, 26);
    }

    @Override
    public void add(CompletionRequest request) {
        if (waiting.containsKey(request.id()) || running.containsKey(request.id())) {
            throw new IllegalArgumentException("duplicate request id " + request.id());
        }
        if (request.prompt().length == 0 || request.prompt().length >= contextLength) {
            throw new IllegalArgumentException("prompt length " + request.prompt().length + " not in [1, "
                    + contextLength + ")");
        }
        if (request.bestOf() < request.n()) {
            throw new IllegalArgumentException("bestOf " + request.bestOf() + " < n " + request.n());
        }
        waiting.put(request.id(), new Live(request));
        addedTotal++;
    }

    @Override
    public List<RequestOutput> step() {
        if (failNextStep) {
            failNextStep = false;
            throw new IllegalStateException("simulated kernel failure");
        }
        if (stepSleepMillis > 0) {
            try {
                Thread.sleep(stepSleepMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        while (running.size() < maxRunning && !waiting.isEmpty()) {
            Live l = waiting.values().iterator().next();
            waiting.remove(l.request.id());
            running.put(l.request.id(), l);
            promptTokens += l.request.prompt().length;
        }
        List<RequestOutput> outputs = new ArrayList<>();
        for (Live l : new ArrayList<>(running.values())) {
            CompletionRequest r = l.request;
            for (int j = 0; j < r.bestOf(); j++) {
                if (l.finish[j] != null) {
                    continue;
                }
                int[] old = l.tokens.get(j);
                int k = old.length;
                int t = tokenAt(r.prompt(), j, k);
                int[] now = Arrays.copyOf(old, k + 1);
                now[k] = t;
                l.tokens.set(j, now);
                double lp = -(k + 1) / 10.0;
                l.cumulative[j] += lp;
                int alt = t == 'z' ? 'a' : t + 1;
                l.logprobs.get(j).add(new TokenLogprob(t, lp, r.logprobs() > 0 ? new int[] {t, alt}
                        : new int[0], r.logprobs() > 0 ? new double[] {lp, lp - 1} : new double[0]));
                generated++;
                String text = tokenizer.decode(now);
                if (r.params().isStop(t)) {
                    l.finish[j] = "stop";
                } else if (stopHit(text, r.stop()) >= 0) {
                    l.finish[j] = "stop";
                } else if (now.length >= r.params().maxTokens() || r.prompt().length + now.length >= contextLength) {
                    l.finish[j] = "length";
                }
            }
            boolean finished = Arrays.stream(l.finish).allMatch(f -> f != null);
            if (finished) {
                running.remove(r.id());
            }
            outputs.add(new RequestOutput(r.id(), outputs(l, finished), finished));
        }
        return outputs;
    }

    private List<CompletionOutput> outputs(Live l, boolean finished) {
        CompletionRequest r = l.request;
        List<Integer> order = new ArrayList<>();
        for (int j = 0; j < r.bestOf(); j++) {
            order.add(j);
        }
        boolean pick = r.bestOf() > r.n();
        if (pick) {
            if (!finished) {
                return List.of(); // best_of: candidates are only shown once ranked
            }
            order.sort(Comparator.comparingDouble((Integer j) -> -l.cumulative[j]).thenComparing(j -> j));
        }
        List<CompletionOutput> out = new ArrayList<>();
        for (int i = 0; i < r.n(); i++) {
            int j = order.get(i);
            String text = tokenizer.decode(l.tokens.get(j));
            int cut = stopHit(text, r.stop());
            if (cut >= 0) {
                text = text.substring(0, cut);
            }
            out.add(new CompletionOutput(i, l.tokens.get(j), text, l.cumulative[j],
                    r.logprobs() < 0 ? null : List.copyOf(l.logprobs.get(j)), l.finish[j]));
        }
        return out;
    }

    private static int stopHit(String text, List<String> stop) {
        int best = -1;
        for (String s : stop) {
            int at = text.indexOf(s);
            if (at >= 0 && (best < 0 || at < best)) {
                best = at;
            }
        }
        return best;
    }

    @Override
    public boolean abort(String requestId) {
        boolean found = waiting.remove(requestId) != null || running.remove(requestId) != null;
        if (found) {
            aborted++;
        }
        return found;
    }

    @Override
    public boolean hasUnfinished() {
        return !waiting.isEmpty() || !running.isEmpty();
    }

    @Override
    public int contextLength() {
        return contextLength;
    }

    /** Blocks held by running requests: ceil(tokens / BLOCK_SIZE) per candidate sequence. */
    int usedBlocks() {
        int used = 0;
        for (Live l : running.values()) {
            for (int[] t : l.tokens) {
                used += (l.request.prompt().length + t.length + BLOCK_SIZE - 1) / BLOCK_SIZE;
            }
        }
        return used;
    }

    @Override
    public EngineStats stats() {
        long filled = 0;
        for (Live l : running.values()) {
            for (int[] t : l.tokens) {
                filled += l.request.prompt().length + t.length;
            }
        }
        int used = usedBlocks();
        return new EngineStats(running.size(), waiting.size(), 0,
                new KvUsage(totalBlocks, used, 0, (long) used * BLOCK_SIZE, filled), 0, generated, promptTokens);
    }

    @Override
    public void close() {
        waiting.clear();
        running.clear();
    }
}
