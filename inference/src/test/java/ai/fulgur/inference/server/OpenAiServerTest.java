package ai.fulgur.inference.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.inference.engine.CompletionRequest;
import ai.fulgur.inference.engine.RequestOutput;
import ai.fulgur.inference.sampling.SamplingParams;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The HTTP server over a deterministic fake engine, on loopback with a free port. */
class OpenAiServerTest {
    private static final AsciiTokenizer TOKENIZER = new AsciiTokenizer();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private OpenAiServer server;
    private FakeEngine engine;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private void start(int contextLength, int maxRunning, long stepSleepMillis, int maxQueue) throws IOException {
        engine = new FakeEngine(TOKENIZER, contextLength, 1024, maxRunning, stepSleepMillis);
        EngineLoop loop = new EngineLoop(engine, maxQueue, new ServingMetrics()).start();
        server = new OpenAiServer(loop, TOKENIZER, "fake-model", new int[] {0},
                new InetSocketAddress("127.0.0.1", 0));
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.port() + path);
    }

    private HttpResponse<String> post(String body) throws Exception {
        return client.send(HttpRequest.newBuilder(uri("/v1/completions")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(String path) throws Exception {
        return client.send(HttpRequest.newBuilder(uri(path)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonObject json(HttpResponse<String> r) {
        return JsonParser.parseString(r.body()).getAsJsonObject();
    }

    /** The reference: the same request run directly on a fresh fake engine, add + step until finished. */
    private static RequestOutput direct(String prompt, SamplingParams params, int n, int bestOf, int logprobs,
            List<String> stop) {
        FakeEngine e = new FakeEngine(TOKENIZER, 256, 1024, 8, 0);
        e.add(new CompletionRequest("ref", TOKENIZER.encode(prompt), params, n, bestOf, false, logprobs, stop));
        RequestOutput last = null;
        while (e.hasUnfinished()) {
            for (RequestOutput o : e.step()) {
                last = o;
            }
        }
        return last;
    }

    private int usedBlocksOnLoop() throws InterruptedException {
        return server.loop().onLoopThread(() -> engine.usedBlocks());
    }

    private static void waitFor(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(10);
        }
    }

    @Test
    void completionHasOpenAiShapeAndTheEnginesText() throws Exception {
        start(256, 8, 0, 64);
        HttpResponse<String> r = post("{\"model\":\"fake-model\",\"prompt\":\"Hello\",\"max_tokens\":6,"
                + "\"temperature\":0,\"n\":2,\"logprobs\":2,\"user\":\"u1\"}");
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        JsonObject o = json(r);
        assertTrue(o.get("id").getAsString().startsWith("cmpl-"), r.body());
        assertEquals("text_completion", o.get("object").getAsString());
        assertEquals("fake-model", o.get("model").getAsString());
        long now = System.currentTimeMillis() / 1000;
        assertTrue(Math.abs(o.get("created").getAsLong() - now) <= 5, r.body());
        RequestOutput ref = direct("Hello", SamplingParams.greedy(6).withStopTokens(0), 2, 2, 2, List.of());
        JsonArray choices = o.getAsJsonArray("choices");
        assertEquals(2, choices.size());
        for (int i = 0; i < 2; i++) {
            JsonObject c = choices.get(i).getAsJsonObject();
            assertEquals(i, c.get("index").getAsInt());
            assertEquals(ref.outputs().get(i).text(), c.get("text").getAsString());
            assertEquals("length", c.get("finish_reason").getAsString());
            JsonObject lp = c.getAsJsonObject("logprobs");
            JsonArray tokens = lp.getAsJsonArray("tokens");
            JsonArray tokenLogprobs = lp.getAsJsonArray("token_logprobs");
            JsonArray offsets = lp.getAsJsonArray("text_offset");
            assertEquals(6, tokens.size());
            for (int k = 0; k < 6; k++) {
                String expected = String.valueOf((char) FakeEngine.tokenAt(TOKENIZER.encode("Hello"), i, k));
                assertEquals(expected, tokens.get(k).getAsString());
                assertEquals(-(k + 1) / 10.0, tokenLogprobs.get(k).getAsDouble(), 1e-12);
                assertEquals(k, offsets.get(k).getAsInt());
                JsonObject top = lp.getAsJsonArray("top_logprobs").get(k).getAsJsonObject();
                assertEquals(2, top.size(), top.toString());
                assertEquals(-(k + 1) / 10.0, top.get(expected).getAsDouble(), 1e-12);
            }
        }
        JsonObject usage = o.getAsJsonObject("usage");
        assertEquals(5, usage.get("prompt_tokens").getAsInt());
        assertEquals(12, usage.get("completion_tokens").getAsInt());
        assertEquals(17, usage.get("total_tokens").getAsInt());
    }

    @Test
    void tokenPromptStopStringsAndBestOf() throws Exception {
        start(256, 8, 0, 64);
        // prompt [104,105] ("hi"): the text starts with 'a' + (209 mod 26) = 'b', then 'i', 'p', ...
        RequestOutput ref = direct("hi", SamplingParams.greedy(10).withStopTokens(0), 1, 1, -1, List.of());
        String full = ref.outputs().get(0).text();
        String stop = full.substring(3, 5);
        HttpResponse<String> r = post("{\"prompt\":[104,105],\"max_tokens\":10,\"stop\":[\"" + stop + "\"]}");
        assertEquals(200, r.statusCode(), r.body());
        JsonObject c = json(r).getAsJsonArray("choices").get(0).getAsJsonObject();
        assertEquals(full.substring(0, full.indexOf(stop)), c.get("text").getAsString());
        assertEquals("stop", c.get("finish_reason").getAsString());
        assertTrue(c.get("logprobs").isJsonNull());

        RequestOutput best = direct("hi", SamplingParams.greedy(4).withStopTokens(0), 1, 3, -1, List.of());
        HttpResponse<String> b = post("{\"prompt\":\"hi\",\"max_tokens\":4,\"best_of\":3}");
        assertEquals(200, b.statusCode(), b.body());
        JsonArray choices = json(b).getAsJsonArray("choices");
        assertEquals(1, choices.size());
        assertEquals(best.outputs().get(0).text(), choices.get(0).getAsJsonObject().get("text").getAsString());
    }

    /** The data: payloads of a server-sent event stream. */
    private static List<String> events(String body) {
        List<String> data = new ArrayList<>();
        for (String block : body.split("\n\n")) {
            if (!block.isEmpty()) {
                assertTrue(block.startsWith("data: "), block);
                data.add(block.substring(6));
            }
        }
        return data;
    }

    @Test
    void streamedPiecesConcatenateToTheNonStreamedText() throws Exception {
        start(256, 8, 0, 64);
        String base = "\"prompt\":\"Once upon\",\"max_tokens\":20,\"n\":2,\"stop\":[\"xyz\",\"qj\"]";
        JsonArray whole = json(post("{" + base + "}")).getAsJsonArray("choices");
        HttpResponse<String> s = post("{" + base + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        assertEquals(200, s.statusCode(), s.body());
        assertTrue(s.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<String> data = events(s.body());
        assertEquals("[DONE]", data.getLast());
        StringBuilder[] texts = {new StringBuilder(), new StringBuilder()};
        String[] finish = new String[2];
        int chunks = 0;
        JsonObject usage = null;
        for (String d : data.subList(0, data.size() - 1)) {
            JsonObject chunk = JsonParser.parseString(d).getAsJsonObject();
            assertEquals("text_completion", chunk.get("object").getAsString());
            if (chunk.has("usage")) {
                usage = chunk.getAsJsonObject("usage");
                continue;
            }
            for (JsonElement e : chunk.getAsJsonArray("choices")) {
                JsonObject c = e.getAsJsonObject();
                int i = c.get("index").getAsInt();
                assertTrue(finish[i] == null, "a chunk after the finish of choice " + i);
                texts[i].append(c.get("text").getAsString());
                if (!c.get("finish_reason").isJsonNull()) {
                    finish[i] = c.get("finish_reason").getAsString();
                }
                chunks++;
            }
        }
        assertTrue(chunks > 4, "expected one chunk per piece, got " + chunks);
        for (int i = 0; i < 2; i++) {
            JsonObject c = whole.get(i).getAsJsonObject();
            assertEquals(c.get("text").getAsString(), texts[i].toString());
            assertEquals(c.get("finish_reason").getAsString(), finish[i]);
        }
        assertNotNull(usage, s.body());
        assertEquals(9, usage.get("prompt_tokens").getAsInt());
    }

    private void assertError(HttpResponse<String> r, int status, String param) {
        assertEquals(status, r.statusCode(), r.body());
        JsonObject err = json(r).getAsJsonObject("error");
        assertNotNull(err, r.body());
        assertTrue(err.get("message").getAsString().length() > 5, r.body());
        assertTrue(err.has("type") && err.has("code"), r.body());
        if (param == null) {
            assertTrue(err.get("param").isJsonNull(), r.body());
        } else {
            assertEquals(param, err.get("param").getAsString(), r.body());
        }
    }

    @Test
    void invalidRequestsAreRefusedNamingTheField() throws Exception {
        start(64, 8, 0, 64);
        assertError(post("{\"prompt\":\"hi\",\"max_tokns\":5}"), 400, "max_tokns");
        assertError(post("{\"prompt\":\"hi\",\"max_tokens\":-1}"), 400, "max_tokens");
        assertError(post("{\"prompt\":\"hi\",\"max_tokens\":100000000000}"), 400, "max_tokens");
        assertError(post("{\"prompt\":\"hi\",\"max_tokens\":63}"), 400, "max_tokens"); // 2 + 63 > 64
        assertError(post("{\"prompt\":\"hi\",\"max_tokens\":\"5\"}"), 400, "max_tokens");
        assertError(post("{\"prompt\":\"hi\",\"max_tokens\":2.5}"), 400, "max_tokens");
        assertError(post("{\"prompt\":\"hi\",\"temperature\":-0.5}"), 400, "temperature");
        assertError(post("{\"prompt\":\"hi\",\"top_p\":0}"), 400, "top_p");
        assertError(post("{\"prompt\":\"hi\",\"top_p\":1.5}"), 400, "top_p");
        assertError(post("{\"prompt\":\"hi\",\"n\":0}"), 400, "n");
        assertError(post("{\"prompt\":\"hi\",\"n\":3,\"best_of\":2}"), 400, "best_of");
        assertError(post("{\"prompt\":\"hi\",\"logprobs\":6}"), 400, "logprobs");
        assertError(post("{\"prompt\":\"hi\",\"stream\":\"yes\"}"), 400, "stream");
        assertError(post("{\"prompt\":\"hi\",\"stop\":[1]}"), 400, "stop");
        assertError(post("{\"prompt\":\"hi\",\"echo\":true}"), 400, "echo");
        assertError(post("{\"prompt\":\"\"}"), 400, "prompt");
        assertError(post("{\"prompt\":[]}"), 400, "prompt");
        assertError(post("{\"prompt\":[\"a\",\"b\"]}"), 400, "prompt");
        assertError(post("{\"prompt\":[1,200]}"), 400, "prompt"); // over the vocabulary
        assertError(post("{\"max_tokens\":3}"), 400, "prompt");
        assertError(post("{\"prompt\":\"" + "x".repeat(64) + "\"}"), 400, "prompt"); // oversize prompt
        assertError(post("{\"prompt\":\"hi\",\"model\":\"gpt-4\"}"), 404, "model");
        assertError(post("{\"prompt\":\"hi\""), 400, null); // malformed JSON
        assertError(post("{\"prompt\":'hi'}"), 400, null); // lenient JSON is not JSON
        assertError(post("{\"prompt\":\"hi\"} trailing"), 400, null);
        assertError(post("[1,2]"), 400, null);
        assertError(post(""), 400, null);
        assertError(get("/v1/completions"), 405, null);
        assertError(get("/v1/nothing"), 404, null);
        HttpResponse<String> form = client.send(HttpRequest.newBuilder(uri("/v1/completions"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("prompt=hi")).build(), HttpResponse.BodyHandlers.ofString());
        assertError(form, 415, null);
        // nothing was admitted: the engine never saw a request
        assertEquals(0, engine.addedTotal);
        assertEquals(200, post("{\"prompt\":\"hi\",\"max_tokens\":62}").statusCode());
        assertEquals(26, server.loop().metrics().requestCount(400));
        assertEquals(1, server.loop().metrics().requestCount(404)); // the model; /v1/nothing is not a completion
        assertEquals(1, server.loop().metrics().requestCount(405));
        assertEquals(1, server.loop().metrics().requestCount(415));
    }

    @Test
    void aClientThatDisconnectsMidStreamIsAbortedAndItsBlocksFreed() throws Exception {
        start(512, 8, 20, 64);
        String body = "{\"prompt\":\"Tell me a long story\",\"max_tokens\":400,\"stream\":true}";
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = socket.getInputStream();
            StringBuilder seen = new StringBuilder();
            while (seen.indexOf("data: ") < 0) {
                int b = in.read();
                assertTrue(b >= 0, "stream ended early: " + seen);
                seen.append((char) b);
            }
            assertTrue(seen.toString().startsWith("HTTP/1.1 200"), seen.toString());
            waitFor("blocks in use", () -> {
                try {
                    return usedBlocksOnLoop() > 0;
                } catch (InterruptedException e) {
                    throw new RuntimeException(e);
                }
            });
            socket.setSoLinger(true, 0); // close with a reset, as a crashed client does
        }
        waitFor("the abort", () -> engine.aborted == 1);
        assertEquals(0, usedBlocksOnLoop());
        waitFor("the 499 count", () -> server.loop().metrics().requestCount(499) == 1);
        assertEquals(200, get("/health").statusCode());
        assertEquals(0, server.loop().queued());
    }

    @Test
    void aFloodBeyondTheQueueGets503sAndTheServerStaysUp() throws Exception {
        start(256, 2, 10, 2);
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            all.add(client.sendAsync(HttpRequest.newBuilder(uri("/v1/completions"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"flood " + i + "\",\"max_tokens\":8}"))
                    .build(), HttpResponse.BodyHandlers.ofString()));
        }
        int ok = 0;
        int busy = 0;
        for (CompletableFuture<HttpResponse<String>> f : all) {
            HttpResponse<String> r = f.get();
            if (r.statusCode() == 200) {
                ok++;
                assertEquals(8, json(r).getAsJsonObject("usage").get("completion_tokens").getAsInt());
            } else {
                assertError(r, 503, null);
                assertEquals("queue_full", json(r).getAsJsonObject("error").get("code").getAsString());
                assertTrue(r.headers().firstValue("Retry-After").isPresent());
                busy++;
            }
        }
        assertEquals(40, ok + busy);
        assertTrue(ok >= 2 && busy >= 1, ok + " answered, " + busy + " refused");
        HttpResponse<String> health = get("/health");
        assertEquals(200, health.statusCode());
        assertEquals("ok", json(health).get("status").getAsString());
        assertEquals(0, usedBlocksOnLoop());
        assertEquals(0, server.loop().queued());
        assertEquals(200, post("{\"prompt\":\"after\",\"max_tokens\":3}").statusCode());
    }

    @Test
    void metricsParseAndMove() throws Exception {
        start(256, 8, 0, 64);
        assertEquals(200, post("{\"prompt\":\"abc\",\"max_tokens\":5,\"n\":2}").statusCode());
        HttpResponse<String> m = get("/metrics");
        assertEquals(200, m.statusCode());
        assertTrue(m.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
        PrometheusSamples first = PrometheusSamples.parse(m.body());
        assertEquals(1, first.value("fulgur_requests_total{status=\"200\"}"));
        assertEquals(10, first.value("fulgur_generation_tokens_total"));
        assertEquals(3, first.value("fulgur_prompt_tokens_total"));
        assertEquals(2, first.value("fulgur_requests_finished_total{finish_reason=\"length\"}"));
        assertEquals(1, first.value("fulgur_time_to_first_token_seconds_count"));
        assertEquals(4, first.value("fulgur_time_per_output_token_seconds_count"));
        assertEquals(1, first.value("fulgur_e2e_request_latency_seconds_count"));
        assertEquals(0, first.value("fulgur_requests_running"));
        assertEquals(0, first.value("fulgur_kv_blocks_used"));
        assertEquals(1024, first.value("fulgur_kv_blocks_free"));
        assertEquals(1, first.value("fulgur_e2e_request_latency_seconds_bucket{le=\"+Inf\"}"));
        assertEquals(400, post("{\"prompt\":\"abc\",\"n\":-1}").statusCode());
        assertEquals(200, post("{\"prompt\":\"abcd\",\"max_tokens\":3}").statusCode());
        PrometheusSamples second = PrometheusSamples.parse(get("/metrics").body());
        assertEquals(2, second.value("fulgur_requests_total{status=\"200\"}"));
        assertEquals(1, second.value("fulgur_requests_total{status=\"400\"}"));
        assertEquals(13, second.value("fulgur_generation_tokens_total"));
        assertEquals(7, second.value("fulgur_prompt_tokens_total"));
        assertEquals(2, second.value("fulgur_time_to_first_token_seconds_count"));
        JsonObject models = json(get("/v1/models"));
        assertEquals("fake-model", models.getAsJsonArray("data").get(0).getAsJsonObject().get("id").getAsString());
        assertEquals(256, models.getAsJsonArray("data").get(0).getAsJsonObject().get("max_model_len").getAsInt());
    }

    @Test
    void shutdownDrainsLiveRequestsThenRefuses() throws Exception {
        start(256, 8, 5, 64);
        CompletableFuture<HttpResponse<String>> live = client.sendAsync(HttpRequest.newBuilder(
                uri("/v1/completions")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"drain\",\"max_tokens\":30}")).build(),
                HttpResponse.BodyHandlers.ofString());
        waitFor("the request to run", () -> server.loop().metrics().stats().running() == 1);
        server.loop().shutdown(Duration.ofSeconds(10));
        HttpResponse<String> r = live.get();
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(30, json(r).getAsJsonObject("usage").get("completion_tokens").getAsInt());
        assertError(post("{\"prompt\":\"late\"}"), 503, null);
        assertEquals(503, get("/health").statusCode());
    }

    @Test
    void anEngineFailureEndsTheLiveRequestsAndServingGoesOn() throws Exception {
        start(256, 8, 5, 64);
        CompletableFuture<HttpResponse<String>> live = client.sendAsync(HttpRequest.newBuilder(
                uri("/v1/completions")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"doomed\",\"max_tokens\":100}")).build(),
                HttpResponse.BodyHandlers.ofString());
        waitFor("the request to run", () -> server.loop().metrics().stats().running() == 1);
        engine.failNextStep = true;
        HttpResponse<String> r = live.get();
        assertEquals(500, r.statusCode(), r.body());
        assertEquals("engine_error", json(r).getAsJsonObject("error").get("code").getAsString());
        assertTrue(json(r).getAsJsonObject("error").get("message").getAsString().contains("simulated kernel failure"),
                r.body());
        assertEquals(1, engine.aborted);
        assertEquals(0, usedBlocksOnLoop());
        assertEquals(200, get("/health").statusCode());
        assertEquals(200, post("{\"prompt\":\"next\",\"max_tokens\":3}").statusCode());
        assertEquals(1, server.loop().metrics().requestCount(500));
    }

    @Test
    void closingAbortsWhatIsLive() throws Exception {
        start(256, 8, 5, 64);
        CompletableFuture<HttpResponse<String>> live = client.sendAsync(HttpRequest.newBuilder(
                uri("/v1/completions")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"cut\",\"max_tokens\":200,"
                        + "\"stream\":true}")).build(), HttpResponse.BodyHandlers.ofString());
        waitFor("the request to run", () -> server.loop().metrics().stats().running() == 1);
        server.loop().close(); // no drain
        HttpResponse<String> r = live.get();
        assertEquals(200, r.statusCode()); // the stream had started: the error is its last event
        List<String> data = events(r.body());
        assertEquals("[DONE]", data.getLast());
        JsonObject error = JsonParser.parseString(data.get(data.size() - 2)).getAsJsonObject().getAsJsonObject("error");
        assertTrue(error.get("message").getAsString().contains("shut down"), r.body());
        assertEquals(1, engine.aborted);
    }
}
