package ai.fulgur.inference.server;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A load test of a running server on loopback: Poisson arrivals at a given rate, prompts and output lengths drawn
 * uniformly from ranges, every request streamed (so the client sees its first token) and greedy. Bounded in count and
 * time: a fixed number of requests, and a deadline after which unfinished ones are counted failed and abandoned. The
 * KV waste comes from the server's {@link ServingMetrics} (same process).
 */
public final class LoadTest {

    /**
     * @param requests    requests per rate
     * @param promptMin   shortest prompt, tokens
     * @param promptMax   longest prompt, tokens
     * @param outputMin   fewest max_tokens
     * @param outputMax   most max_tokens
     * @param vocabLimit  prompt token ids are drawn from [0, vocabLimit)
     * @param timeLimit   per rate, from the first send
     * @param seed        arrivals, lengths and prompts
     */
    public record Options(int requests, int promptMin, int promptMax, int outputMin, int outputMax, int vocabLimit,
            Duration timeLimit, long seed) {
        public Options {
            if (requests < 1 || promptMin < 1 || promptMax < promptMin || outputMin < 1 || outputMax < outputMin
                    || vocabLimit < 1) {
                throw new IllegalArgumentException("load test options need requests >= 1, 1 <= promptMin <= "
                        + "promptMax, 1 <= outputMin <= outputMax, vocabLimit >= 1; got " + this);
            }
        }
    }

    private record Outcome(boolean ok, int tokens, double ttft, double e2e, double endSeconds) {
    }

    private LoadTest() {}

    /** Runs {@code options.requests()} requests at {@code rate} per second against the server at {@code port}. */
    public static LoadResult run(String mode, int port, double rate, Options options, ServingMetrics metrics)
            throws InterruptedException {
        if (!(rate > 0)) {
            throw new IllegalArgumentException("rate must be > 0 requests/s, got " + rate);
        }
        Random random = new Random(options.seed());
        double[] arrivals = new double[options.requests()];
        String[] bodies = new String[options.requests()];
        double t = 0;
        for (int i = 0; i < arrivals.length; i++) {
            t += -Math.log(1 - random.nextDouble()) / rate; // exponential gaps: a Poisson process
            arrivals[i] = t;
            int promptLength = options.promptMin() + random.nextInt(options.promptMax() - options.promptMin() + 1);
            int maxTokens = options.outputMin() + random.nextInt(options.outputMax() - options.outputMin() + 1);
            StringBuilder prompt = new StringBuilder("[");
            for (int k = 0; k < promptLength; k++) {
                prompt.append(k == 0 ? "" : ",").append(random.nextInt(options.vocabLimit()));
            }
            bodies[i] = "{\"prompt\":" + prompt + "],\"max_tokens\":" + maxTokens + ",\"temperature\":0,"
                    + "\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
        }
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        URI uri = URI.create("http://127.0.0.1:" + port + "/v1/completions");
        double allocatedBefore = metrics.kvSlotsAllocatedTotal();
        double filledBefore = metrics.kvSlotsFilledTotal();
        metrics.takePeakKvUsed();
        long start = System.nanoTime();
        long deadline = start + options.timeLimit().toNanos();
        List<Future<Outcome>> futures = new ArrayList<>();
        try (ExecutorService senders = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < arrivals.length; i++) {
                long sendAt = start + (long) (arrivals[i] * 1e9);
                String body = bodies[i];
                futures.add(senders.submit(() -> send(client, uri, body, sendAt, deadline, start)));
            }
            List<Outcome> outcomes = new ArrayList<>();
            for (Future<Outcome> f : futures) {
                long left = Math.max(1, deadline - System.nanoTime() + 5_000_000_000L);
                try {
                    outcomes.add(f.get(left, TimeUnit.NANOSECONDS));
                } catch (Exception e) {
                    f.cancel(true);
                    outcomes.add(new Outcome(false, 0, 0, 0, 0));
                }
            }
            senders.shutdownNow();
            return summarise(mode, rate, outcomes, metrics.kvSlotsAllocatedTotal() - allocatedBefore,
                    metrics.kvSlotsFilledTotal() - filledBefore, metrics.takePeakKvUsed());
        } finally {
            client.close();
        }
    }

    private static Outcome send(HttpClient client, URI uri, String body, long sendAt, long deadline, long start)
            throws InterruptedException {
        long wait = sendAt - System.nanoTime();
        if (wait > 0) {
            Thread.sleep(Duration.ofNanos(wait));
        }
        if (System.nanoTime() > deadline) {
            return new Outcome(false, 0, 0, 0, 0);
        }
        long sent = System.nanoTime();
        HttpRequest request = HttpRequest.newBuilder(uri).header("Content-Type", "application/json")
                .timeout(Duration.ofNanos(Math.max(1, deadline - sent)))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        try {
            HttpResponse<Stream<String>> r = client.send(request, HttpResponse.BodyHandlers.ofLines());
            if (r.statusCode() != 200) {
                r.body().close();
                return new Outcome(false, 0, 0, 0, 0);
            }
            long first = -1;
            int tokens = -1;
            boolean done = false;
            try (Stream<String> lines = r.body()) {
                for (String line : (Iterable<String>) lines::iterator) {
                    if (System.nanoTime() > deadline) {
                        return new Outcome(false, 0, 0, 0, 0); // closing the stream disconnects: the server aborts
                    }
                    if (!line.startsWith("data: ")) {
                        continue;
                    }
                    String data = line.substring(6);
                    if (data.equals("[DONE]")) {
                        done = true;
                        break;
                    }
                    JsonObject chunk = JsonParser.parseString(data).getAsJsonObject();
                    if (chunk.has("error")) {
                        return new Outcome(false, 0, 0, 0, 0);
                    }
                    if (chunk.has("usage") && chunk.get("usage").isJsonObject()) {
                        tokens = chunk.getAsJsonObject("usage").get("completion_tokens").getAsInt();
                    } else if (first < 0) {
                        first = System.nanoTime();
                    }
                }
            }
            long end = System.nanoTime();
            if (!done || tokens < 1 || first < 0) {
                return new Outcome(false, 0, 0, 0, 0);
            }
            return new Outcome(true, tokens, (first - sent) / 1e9, (end - sent) / 1e9, (end - start) / 1e9);
        } catch (IOException e) {
            return new Outcome(false, 0, 0, 0, 0);
        }
    }

    private static LoadResult summarise(String mode, double rate, List<Outcome> outcomes, double allocated,
            double filled, int peakKvUsed) {
        List<Outcome> ok = outcomes.stream().filter(Outcome::ok).toList();
        double seconds = ok.stream().mapToDouble(Outcome::endSeconds).max().orElse(0);
        long tokens = ok.stream().mapToLong(Outcome::tokens).sum();
        double[] ttft = ok.stream().mapToDouble(Outcome::ttft).toArray();
        double[] e2e = ok.stream().mapToDouble(Outcome::e2e).toArray();
        double[] tpot = ok.stream().filter(o -> o.tokens() > 1)
                .mapToDouble(o -> (o.e2e() - o.ttft()) / (o.tokens() - 1)).toArray();
        return new LoadResult(mode, rate, outcomes.size(), ok.size(), outcomes.size() - ok.size(), seconds,
                seconds == 0 ? 0 : ok.size() / seconds, seconds == 0 ? 0 : tokens / seconds,
                LoadResult.Latency.of(ttft), LoadResult.Latency.of(tpot), LoadResult.Latency.of(e2e),
                allocated == 0 ? 0 : 1 - filled / allocated, peakKvUsed);
    }

    /** A header for {@link #print}. */
    public static void printHeader(PrintStream out) {
        out.printf("%-12s %6s %5s %5s %8s %9s | %-23s | %-23s | %-23s | %8s %6s%n", "mode", "rate", "ok", "fail",
                "req/s", "out tok/s", "TTFT p50/p90/p99 ms", "TPOT p50/p90/p99 ms", "E2E p50/p90/p99 s", "KV waste",
                "peakKV");
    }

    /** One table row. */
    public static void print(PrintStream out, LoadResult r) {
        out.printf("%-12s %6.2f %5d %5d %8.3f %9.1f | %7.1f %7.1f %7.1f | %7.2f %7.2f %7.2f | %7.2f %7.2f %7.2f |"
                + " %7.3f%% %6d%n", r.mode(), r.rate(), r.completed(), r.failed(), r.requestsPerSec(),
                r.outputTokensPerSec(), r.ttft().p50() * 1e3, r.ttft().p90() * 1e3, r.ttft().p99() * 1e3,
                r.tpot().p50() * 1e3, r.tpot().p90() * 1e3, r.tpot().p99() * 1e3, r.e2e().p50(), r.e2e().p90(),
                r.e2e().p99(), r.kvWaste() * 100, r.peakKvUsed());
    }

    /** One JSON row for docs/perf/serving.json. */
    public static JsonObject json(LoadResult r) {
        JsonObject o = new JsonObject();
        o.addProperty("mode", r.mode());
        o.addProperty("rate_req_per_s", r.rate());
        o.addProperty("requests", r.sent());
        o.addProperty("completed", r.completed());
        o.addProperty("failed", r.failed());
        o.addProperty("seconds", round(r.seconds()));
        o.addProperty("throughput_req_per_s", round(r.requestsPerSec()));
        o.addProperty("throughput_output_tok_per_s", round(r.outputTokensPerSec()));
        latency(o, "ttft_ms", r.ttft(), 1e3);
        latency(o, "tpot_ms", r.tpot(), 1e3);
        latency(o, "e2e_s", r.e2e(), 1);
        o.addProperty("kv_waste_fraction", Math.round(r.kvWaste() * 1e5) / 1e5);
        o.addProperty("peak_kv_blocks_used", r.peakKvUsed());
        return o;
    }

    private static void latency(JsonObject o, String name, LoadResult.Latency l, double scale) {
        JsonObject j = new JsonObject();
        put(j, "p50", l.p50() * scale);
        put(j, "p90", l.p90() * scale);
        put(j, "p99", l.p99() * scale);
        put(j, "mean", l.mean() * scale);
        o.add(name, j);
    }

    /** A number rounded to 3 decimals, or null when there was no sample (NaN). */
    private static void put(JsonObject o, String name, double v) {
        if (Double.isFinite(v)) {
            o.addProperty(name, round(v));
        } else {
            o.add(name, com.google.gson.JsonNull.INSTANCE);
        }
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    /** Fails fast when the server is not answering, before a run is started. */
    static void checkHealth(int port) throws IOException, InterruptedException {
        try (HttpClient client = HttpClient.newHttpClient()) {
            HttpResponse<InputStream> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                    + "/health")).build(), HttpResponse.BodyHandlers.ofInputStream());
            r.body().close();
            if (r.statusCode() != 200) {
                throw new IOException("the server on port " + port + " is not healthy: " + r.statusCode());
            }
        }
    }
}
