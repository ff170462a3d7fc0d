package ai.fulgur.inference.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.fulgur.datasets.tokenizer.Tokenizer;
import ai.fulgur.datasets.tokenizer.Tokenizers;
import ai.fulgur.inference.engine.EngineConfig;
import ai.fulgur.inference.engine.PagedEngine;
import ai.fulgur.inference.generate.Generator;
import ai.fulgur.inference.sampling.SamplingParams;
import ai.fulgur.inference.scheduler.PreemptionMode;
import ai.fulgur.training.gpt2.Gpt2Config;
import ai.fulgur.training.gpt2.Gpt2Model;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The server over the real {@link PagedEngine} and a tiny random GPT-2 on the CPU: its greedy text is the plain-cache
 * {@link Generator}'s, its log-probabilities are the full forward pass's, streaming gives the same text, and faults
 * (disconnects, floods) leave the KV pool with no block in use.
 */
class PagedEngineServerTest {
    private static final String[] PROMPTS = {"Hello world", "The quick brown fox", "1 2 3"};
    private static final int MAX_TOKENS = 12;
    private static Tokenizer tokenizer;
    private static Gpt2Model model;
    private static PagedEngine engine;
    private static OpenAiServer server;
    private static final List<int[]> reference = new ArrayList<>();
    private static final List<double[]> referenceLogprobs = new ArrayList<>();
    private static final HttpClient client = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        tokenizer = Tokenizers.byName("gpt2");
        model = Gpt2Model.newModel(Gpt2Config.builder().nLayer(2).nHead(2).nEmbd(32).nPositions(64)
                .vocabSize(Gpt2Config.GPT2_VOCAB_SIZE).residPdrop(0).embdPdrop(0).attnPdrop(0).build(), 11);
        int eos = Gpt2Config.GPT2_END_OF_TEXT;
        // The references are computed before the engine loop owns the model.
        for (String p : PROMPTS) {
            int[] prompt = tokenizer.encode(p);
            int[] tokens = new Generator(model).generate(prompt, SamplingParams.greedy(MAX_TOKENS)
                    .withStopTokens(eos), 1).get(0).tokens();
            reference.add(tokens);
            referenceLogprobs.add(fullForwardLogprobs(prompt, tokens));
        }
        engine = new PagedEngine(model, tokenizer, new EngineConfig(4, 96, 32, true, 128, 16, PreemptionMode.SWAP));
        EngineLoop loop = new EngineLoop(engine, 4, new ServingMetrics()).start();
        server = new OpenAiServer(loop, tokenizer, "tiny", new int[] {eos}, new InetSocketAddress("127.0.0.1", 0));
    }

    @AfterAll
    static void stop() {
        server.close();
        model.close();
    }

    /** log softmax(logits)[token] of each generated token, from one forward pass over prompt + tokens, in double. */
    private static double[] fullForwardLogprobs(int[] prompt, int[] tokens) {
        int[] all = Arrays.copyOf(prompt, prompt.length + tokens.length);
        System.arraycopy(tokens, 0, all, prompt.length, tokens.length);
        try (NDManager m = model.getManager().newSubManager()) {
            NDArray logits = model.forward(m.create(all, new Shape(1, all.length)));
            float[] flat = logits.toFloatArray();
            int v = (int) logits.getShape().get(2);
            double[] out = new double[tokens.length];
            for (int i = 0; i < tokens.length; i++) {
                int row = (prompt.length - 1 + i) * v;
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < v; k++) {
                    max = Math.max(max, flat[row + k]);
                }
                double sum = 0;
                for (int k = 0; k < v; k++) {
                    sum += Math.exp(flat[row + k] - max);
                }
                out[i] = flat[row + tokens[i]] - max - Math.log(sum);
            }
            return out;
        }
    }

    private static HttpResponse<String> post(String body) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                + "/v1/completions")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static int usedBlocks() throws InterruptedException {
        return server.loop().onLoopThread(() -> engine.stats().deviceKv().usedBlocks());
    }

    private static String quote(String s) {
        return new com.google.gson.JsonPrimitive(s).toString();
    }

    @Test
    void greedyTextAndLogprobsMatchThePlainCacheAndTheFullForward() throws Exception {
        for (int i = 0; i < PROMPTS.length; i++) {
            HttpResponse<String> r = post("{\"prompt\":" + quote(PROMPTS[i]) + ",\"max_tokens\":" + MAX_TOKENS
                    + ",\"temperature\":0,\"logprobs\":1}");
            assertEquals(200, r.statusCode(), r.body());
            JsonObject o = JsonParser.parseString(r.body()).getAsJsonObject();
            JsonObject c = o.getAsJsonArray("choices").get(0).getAsJsonObject();
            assertEquals(tokenizer.decode(reference.get(i)), c.get("text").getAsString(), PROMPTS[i]);
            assertEquals(reference.get(i).length, o.getAsJsonObject("usage").get("completion_tokens").getAsInt());
            assertEquals(tokenizer.encode(PROMPTS[i]).length,
                    o.getAsJsonObject("usage").get("prompt_tokens").getAsInt());
            JsonArray lps = c.getAsJsonObject("logprobs").getAsJsonArray("token_logprobs");
            for (int k = 0; k < lps.size(); k++) {
                assertEquals(referenceLogprobs.get(i)[k], lps.get(k).getAsDouble(), 1e-4, "token " + k);
            }
            // the greedy token is the most likely one: it leads its own top_logprobs
            JsonObject top = c.getAsJsonObject("logprobs").getAsJsonArray("top_logprobs").get(0).getAsJsonObject();
            assertEquals(lps.get(0).getAsDouble(), top.entrySet().iterator().next().getValue().getAsDouble(), 1e-9);
        }
        assertEquals(0, usedBlocks());
    }

    @Test
    void streamingConcatenatesToTheSameText() throws Exception {
        String base = "\"prompt\":" + quote(PROMPTS[1]) + ",\"max_tokens\":" + MAX_TOKENS + ",\"temperature\":0";
        HttpResponse<String> s = post("{" + base + ",\"stream\":true}");
        assertEquals(200, s.statusCode(), s.body());
        StringBuilder text = new StringBuilder();
        int chunks = 0;
        for (String block : s.body().split("\n\n")) {
            String data = block.substring("data: ".length());
            if (data.equals("[DONE]")) {
                continue;
            }
            for (JsonElement e : JsonParser.parseString(data).getAsJsonObject().getAsJsonArray("choices")) {
                text.append(e.getAsJsonObject().get("text").getAsString());
                chunks++;
            }
        }
        assertTrue(chunks >= 2, s.body());
        assertEquals(tokenizer.decode(reference.get(1)), text.toString());
    }

    @Test
    void sampledRequestsWithASeedRepeatAndNAndBeamSearchAnswer() throws Exception {
        String sampled = "{\"prompt\":\"Once\",\"max_tokens\":6,\"temperature\":0.9,\"top_k\":50,\"seed\":7,\"n\":2}";
        HttpResponse<String> a = post(sampled);
        HttpResponse<String> b = post(sampled);
        assertEquals(200, a.statusCode(), a.body());
        JsonArray ca = JsonParser.parseString(a.body()).getAsJsonObject().getAsJsonArray("choices");
        JsonArray cb = JsonParser.parseString(b.body()).getAsJsonObject().getAsJsonArray("choices");
        assertEquals(2, ca.size());
        assertEquals(ca, cb); // the same seed gives the same samples
        HttpResponse<String> beam = post("{\"prompt\":\"Once\",\"max_tokens\":5,\"temperature\":0,"
                + "\"use_beam_search\":true,\"best_of\":3,\"n\":2}");
        assertEquals(200, beam.statusCode(), beam.body());
        assertEquals(2, JsonParser.parseString(beam.body()).getAsJsonObject().getAsJsonArray("choices").size());
        assertEquals(0, usedBlocks());
    }

    @Test
    void faultsLeaveTheKvPoolEmpty() throws Exception {
        // an oversize prompt is refused before the engine sees it
        HttpResponse<String> big = post("{\"prompt\":" + quote("word ".repeat(80)) + "}");
        assertEquals(400, big.statusCode(), big.body());
        assertEquals("prompt", JsonParser.parseString(big.body()).getAsJsonObject().getAsJsonObject("error")
                .get("param").getAsString());
        // a client that resets its connection mid-stream is aborted
        String body = "{\"prompt\":\"Tell\",\"max_tokens\":60,\"stream\":true}";
        double aborts = server.loop().metrics().finished.value("abort");
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = socket.getInputStream();
            StringBuilder seen = new StringBuilder();
            while (seen.indexOf("data: ") < 0) {
                int c = in.read();
                assertTrue(c >= 0, seen.toString());
                seen.append((char) c);
            }
            socket.setSoLinger(true, 0);
        }
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (server.loop().metrics().finished.value("abort") == aborts || usedBlocks() > 0) {
            assertTrue(System.nanoTime() < deadline, "the disconnected request was not aborted");
            Thread.sleep(20);
        }
        // a flood beyond the queue of 4: some 503s, the rest answered in full
        List<CompletableFuture<HttpResponse<String>>> flood = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            flood.add(client.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                    + "/v1/completions")).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers
                    .ofString("{\"prompt\":\"flood " + i + "\",\"max_tokens\":8,\"temperature\":0}")).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        int ok = 0;
        int busy = 0;
        for (CompletableFuture<HttpResponse<String>> f : flood) {
            int status = f.get().statusCode();
            ok += status == 200 ? 1 : 0;
            busy += status == 503 ? 1 : 0;
        }
        assertEquals(24, ok + busy);
        assertTrue(ok >= 4 && busy >= 1, ok + " answered, " + busy + " refused");
        assertEquals(200, client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                + "/health")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        assertEquals(0, usedBlocks());
        assertEquals(0, server.loop().onLoopThread(() -> engine.stats().running() + engine.stats().waiting()));
    }
}
