package ai.fulgur.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.training.gpt2.Gpt2Config;
import ai.fulgur.training.gpt2.Gpt2Model;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code fulgur serve} and {@code fulgur bench serve} on a tiny random GPT-2 checkpoint, on loopback. */
class ServeCommandTest {
    @TempDir
    static Path dir;
    static Path checkpoint;

    @BeforeAll
    static void checkpoint() throws Exception {
        checkpoint = dir.resolve("tiny-gpt2");
        try (Gpt2Model m = Gpt2Model.newModel(Gpt2Config.builder().nLayer(2).nHead(2).nEmbd(32).nPositions(64)
                .vocabSize(Gpt2Config.GPT2_VOCAB_SIZE).residPdrop(0).embdPdrop(0).attnPdrop(0).build(), 5)) {
            m.save(checkpoint);
        }
    }

    @Test
    void servedGreedyTextIsWhatGenerateWrites() throws Exception {
        CliRun gen = CliRun.of("generate", "--checkpoint", checkpoint.toString(), "--prompt", "Hello there",
                "--max-tokens", "10", "--temperature", "0");
        assertEquals(0, gen.code(), gen.err());
        assertTrue(gen.out().startsWith("Hello there"), gen.out());
        String expected = gen.out().substring("Hello there".length(), gen.out().length() - System.lineSeparator().length());

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        AtomicInteger code = new AtomicInteger(-1);
        Thread serve = new Thread(() -> code.set(Main.run(new String[] {"serve", "--checkpoint",
                checkpoint.toString(), "--port", "0", "--kv-blocks", "64", "--block-size", "8", "--max-queue", "8"},
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true,
                StandardCharsets.UTF_8))));
        serve.start();
        Pattern listening = Pattern.compile("on http://127\\.0\\.0\\.1:(\\d+)");
        Matcher m = listening.matcher("");
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!(m = listening.matcher(out.toString(StandardCharsets.UTF_8))).find()) {
            assertTrue(serve.isAlive(), "serve exited: " + out + err);
            assertTrue(System.nanoTime() < deadline, "serve did not start: " + out + err);
            Thread.sleep(50);
        }
        String base = "http://127.0.0.1:" + m.group(1);
        try (HttpClient client = HttpClient.newHttpClient()) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                            "{\"model\":\"tiny-gpt2\",\"prompt\":\"Hello there\",\"max_tokens\":10,"
                                    + "\"temperature\":0}")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            JsonObject o = JsonParser.parseString(r.body()).getAsJsonObject();
            assertEquals(expected, o.getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString());
            HttpResponse<String> models = client.send(HttpRequest.newBuilder(URI.create(base + "/v1/models")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertTrue(models.body().contains("\"tiny-gpt2\""), models.body());
            HttpResponse<String> metrics = client.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertTrue(metrics.body().contains("fulgur_kv_blocks_total 64"), metrics.body());
            assertTrue(metrics.body().contains("fulgur_requests_total{status=\"200\"} 1"), metrics.body());
        }
        serve.interrupt();
        serve.join(30_000);
        assertEquals(0, code.get(), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void badServeOptionsAreUsageErrors() {
        CliRun noCheckpoint = CliRun.of("serve");
        assertEquals(2, noCheckpoint.code());
        assertTrue(noCheckpoint.err().contains("--checkpoint"), noCheckpoint.err());
        CliRun mode = CliRun.of("serve", "--checkpoint", checkpoint.toString(), "--preemption", "drop");
        assertEquals(2, mode.code());
        assertTrue(mode.err().contains("drop"), mode.err());
        CliRun tooFew = CliRun.of("serve", "--checkpoint", checkpoint.toString(), "--kv-blocks", "2", "--port", "0");
        assertEquals(2, tooFew.code());
        assertTrue(tooFew.err().contains("2 blocks"), tooFew.err());
        CliRun bench = CliRun.of("bench", "sarve", "--checkpoint", checkpoint.toString());
        assertEquals(2, bench.code());
        assertTrue(bench.err().contains("sarve"), bench.err());
    }

    @Test
    void benchServeWritesOneRowPerRateAndMode() throws Exception {
        Path json = dir.resolve("serving.json");
        CliRun r = CliRun.of("bench", "serve", "--checkpoint", checkpoint.toString(), "--rates", "20,40", "--requests",
                "4", "--prompt-min", "2", "--prompt-max", "6", "--output-min", "2", "--output-max", "5",
                "--static-batch", "2", "--warmup", "2", "--kv-blocks", "64", "--block-size", "4", "--json",
                json.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        JsonArray rows = JsonParser.parseString(Files.readString(json)).getAsJsonObject().getAsJsonArray("rows");
        assertEquals(4, rows.size());
        String[] modes = {"continuous", "static(2)", "continuous", "static(2)"};
        double[] rates = {20, 20, 40, 40};
        for (int i = 0; i < 4; i++) {
            JsonObject row = rows.get(i).getAsJsonObject();
            assertEquals(modes[i], row.get("mode").getAsString());
            assertEquals(rates[i], row.get("rate_req_per_s").getAsDouble());
            assertEquals(4, row.get("completed").getAsInt(), row.toString());
            assertTrue(row.get("throughput_output_tok_per_s").getAsDouble() > 0, row.toString());
            double waste = row.get("kv_waste_fraction").getAsDouble();
            assertTrue(waste > 0 && waste < 0.5, row.toString());
        }
        assertTrue(r.out().contains("static(2)"), r.out());
    }
}
