package ai.fulgur.cli;

import ai.fulgur.datasets.tokenizer.Tokenizer;
import ai.fulgur.inference.engine.EngineConfig;
import ai.fulgur.inference.engine.LlmEngine;
import ai.fulgur.inference.engine.PagedEngine;
import ai.fulgur.inference.server.EngineLoop;
import ai.fulgur.inference.server.LoadResult;
import ai.fulgur.inference.server.LoadTest;
import ai.fulgur.inference.server.OpenAiServer;
import ai.fulgur.inference.server.ServingMetrics;
import ai.fulgur.inference.server.StaticBatchingEngine;
import ai.fulgur.training.gpt2.Gpt2Model;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code fulgur bench serve}: the serving load test. For each request rate it starts the server on loopback over the
 * paged engine (continuous batching) and over the same engine behind {@link StaticBatchingEngine} (fixed batches run
 * to completion), sends the same Poisson stream of requests to each, and prints throughput, latency percentiles and
 * the KV waste. Bounded: --requests per rate and --time-limit seconds per run.
 */
final class BenchServeCommand implements Command {

    @Override
    public String summary() {
        return "serving load test: continuous vs static batching at several request rates (use: bench serve)";
    }

    @Override
    public String usage() {
        return "usage: fulgur bench serve (--checkpoint DIR | --preset tiny|small|124m) [options]\n"
                + "  --preset NAME           a randomly initialised GPT-2 preset instead of a checkpoint\n"
                + "  --rates LIST            request rates (requests/s), comma-separated                 [1,2,4]\n"
                + "  --requests N            requests per rate and mode                                      [32]\n"
                + "  --prompt-min N          shortest prompt, tokens                                          [8]\n"
                + "  --prompt-max N          longest prompt, tokens                                          [64]\n"
                + "  --output-min N          fewest max_tokens                                               [16]\n"
                + "  --output-max N          most max_tokens                                                 [64]\n"
                + "  --static-batch N        batch size of the static-batching baseline (0: skip it)           [8]\n"
                + "  --time-limit S          seconds per run before unfinished requests count as failed     [300]\n"
                + "  --seed N                arrivals, lengths and prompts                                    [1]\n"
                + "  --warmup N              requests run first, unrecorded, to warm the JIT                  [8]\n"
                + "  --json FILE             also write the rows as JSON\n"
                + ServingOptions.USAGE;
    }

    @Override
    public int run(Args args, PrintStream out, PrintStream err) throws Exception {
        if (args.help()) {
            out.print(usage());
            return 0;
        }
        if (args.positional().size() != 1 || !args.positional().get(0).equals("serve")) {
            throw new Args.UsageException("expected 'fulgur bench serve', got 'fulgur bench "
                    + String.join(" ", args.positional()) + "'");
        }
        List<Double> rates = new ArrayList<>();
        for (String r : args.string("rates", "1,2,4").split(",")) {
            try {
                double rate = Double.parseDouble(r.trim());
                if (!(rate > 0) || !Double.isFinite(rate)) {
                    throw new NumberFormatException();
                }
                rates.add(rate);
            } catch (NumberFormatException e) {
                throw new Args.UsageException("--rates expects positive numbers separated by commas, got '" + r
                        + "'");
            }
        }
        int requests = args.integer("requests", 32, 1);
        int promptMin = args.integer("prompt-min", 8, 1);
        int promptMax = args.integer("prompt-max", 64, promptMin);
        int outputMin = args.integer("output-min", 16, 1);
        int outputMax = args.integer("output-max", 64, outputMin);
        int staticBatch = args.integer("static-batch", 8, 0);
        int timeLimit = args.integer("time-limit", 300, 1);
        int seed = args.integer("seed", 1, 0);
        int warmup = args.integer("warmup", 8, 0);
        String json = args.string("json", null);
        ServingOptions options = new ServingOptions(args, true);
        args.finish();
        Tokenizer tokenizer = options.loadTokenizer();
        List<LoadResult> results = new ArrayList<>();
        try (Gpt2Model model = options.loadModel()) {
            if (promptMax + outputMax > model.getConfig().nPositions()) {
                throw new Args.UsageException("--prompt-max + --output-max (" + (promptMax + outputMax) + ") must fit "
                        + "the model's context of " + model.getConfig().nPositions() + " tokens");
            }
            EngineConfig config = options.engineConfig(model.getConfig());
            int vocab = Math.min(tokenizer.vocabSize(), model.getConfig().vocabSize());
            LoadTest.Options load = new LoadTest.Options(requests, promptMin, promptMax, outputMin, outputMax,
                    // prompt ids below the end-of-text token (GPT-2 puts it last)
                    Math.max(1, vocab - 1), Duration.ofSeconds(timeLimit), seed);
            out.printf("model %s (%d layers, C = %d, context %d), %d KV blocks of %d tokens, max %d tokens and %d"
                    + " sequences a step, %d requests per run, prompts %d-%d tokens, max_tokens %d-%d, greedy%n",
                    options.modelName(), model.getConfig().nLayer(), model.getConfig().nEmbd(),
                    model.getConfig().nPositions(), config.numDeviceBlocks(), config.blockSize(),
                    config.maxTokensPerStep(), config.maxSequences(), requests, promptMin, promptMax, outputMin,
                    outputMax);
            if (warmup > 0) {
                LoadResult w = runOnce("warm-up", new PagedEngine(model, tokenizer, config), tokenizer, 100,
                        new LoadTest.Options(warmup, promptMin, promptMax, outputMin, outputMax, load.vocabLimit(),
                                load.timeLimit(), seed + 1000L), warmup);
                out.printf("warm-up: %d requests, %d completed (not recorded)%n", warmup, w.completed());
            }
            LoadTest.printHeader(out);
            for (double rate : rates) {
                results.add(runOnce("continuous", new PagedEngine(model, tokenizer, config), tokenizer, rate, load,
                        requests));
                LoadTest.print(out, results.getLast());
                if (staticBatch > 0) {
                    results.add(runOnce("static(" + staticBatch + ")", new StaticBatchingEngine(new PagedEngine(
                            model, tokenizer, config), staticBatch), tokenizer, rate, load, requests));
                    LoadTest.print(out, results.getLast());
                }
                out.flush();
            }
        }
        if (json != null) {
            JsonArray rows = new JsonArray();
            results.forEach(r -> rows.add(LoadTest.json(r)));
            JsonObject doc = new JsonObject();
            doc.add("rows", rows);
            Files.writeString(Path.of(json), new GsonBuilder().setPrettyPrinting().create().toJson(doc) + "\n");
            out.println("wrote " + json);
        }
        return 0;
    }

    /** One server over {@code engine} on a free loopback port, one load run, then shut down. */
    private static LoadResult runOnce(String mode, LlmEngine engine, Tokenizer tokenizer, double rate,
            LoadTest.Options load, int requests) throws Exception {
        ServingMetrics metrics = new ServingMetrics();
        EngineLoop loop = new EngineLoop(engine, Math.max(requests, 1), metrics).start();
        try (OpenAiServer server = new OpenAiServer(loop, tokenizer, "bench", ServingOptions.stopTokens(tokenizer),
                new InetSocketAddress("127.0.0.1", 0))) {
            return LoadTest.run(mode, server.port(), rate, load, metrics);
        }
    }
}
