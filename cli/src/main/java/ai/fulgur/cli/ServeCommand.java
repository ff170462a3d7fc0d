package ai.fulgur.cli;

import ai.fulgur.datasets.tokenizer.Tokenizer;
import ai.fulgur.inference.engine.EngineConfig;
import ai.fulgur.inference.engine.PagedEngine;
import ai.fulgur.inference.server.EngineLoop;
import ai.fulgur.inference.server.OpenAiServer;
import ai.fulgur.inference.server.ServingMetrics;
import ai.fulgur.training.gpt2.Gpt2Model;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * {@code fulgur serve --checkpoint DIR}: the OpenAI-compatible completions server over the paged engine. Runs until
 * the process is stopped (Ctrl-C / SIGTERM drain the live requests for up to --drain-seconds) or its thread is
 * interrupted (tests).
 */
final class ServeCommand implements Command {

    @Override
    public String summary() {
        return "serve a GPT-2 checkpoint over HTTP (OpenAI /v1/completions, /health, /metrics)";
    }

    @Override
    public String usage() {
        return "usage: fulgur serve --checkpoint DIR [options]\n"
                + "  --host HOST             address to listen on                                     [127.0.0.1]\n"
                + "  --port N                port (0: any free one)                                        [8000]\n"
                + "  --max-queue N           requests waiting for their first token before 503s             [256]\n"
                + "  --model-name NAME       the name clients see and may send        [the checkpoint dir's name]\n"
                + "  --drain-seconds N       on shutdown, time given to live requests                        [10]\n"
                + ServingOptions.USAGE;
    }

    @Override
    public int run(Args args, PrintStream out, PrintStream err) throws Exception {
        if (args.help()) {
            out.print(usage());
            return 0;
        }
        String host = args.string("host", "127.0.0.1");
        int port = args.integer("port", 8000, 0);
        if (port > 65535) {
            throw new Args.UsageException("--port must be in [0, 65535], got " + port);
        }
        int maxQueue = args.integer("max-queue", 256, 1);
        String name = args.string("model-name", null);
        int drain = args.integer("drain-seconds", 10, 0);
        ServingOptions options = new ServingOptions(args, false);
        args.finish();
        Tokenizer tokenizer = options.loadTokenizer();
        Gpt2Model model = options.loadModel();
        if (tokenizer.vocabSize() > model.getConfig().vocabSize()) {
            model.close();
            throw new Args.UsageException("the tokenizer has " + tokenizer.vocabSize() + " tokens but the model only "
                    + model.getConfig().vocabSize() + "; pass the tokenizer it was trained with (--tokenizer)");
        }
        EngineConfig config = options.engineConfig(model.getConfig());
        PagedEngine engine = new PagedEngine(model, tokenizer, config);
        EngineLoop loop = new EngineLoop(engine, maxQueue, new ServingMetrics()).start();
        String modelName = name != null ? name : options.modelName();
        OpenAiServer server;
        try {
            server = new OpenAiServer(loop, tokenizer, modelName, ServingOptions.stopTokens(tokenizer),
                    new InetSocketAddress(host, port));
        } catch (java.io.IOException e) {
            loop.close();
            model.close();
            throw new java.io.IOException("cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            stop(server, drain, err);
            stopped.countDown();
        }, "fulgur-serve-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        out.printf("serving %s (context %d tokens, %d KV blocks of %d tokens, %s preemption) on http://%s:%d%n",
                modelName, loop.contextLength(), config.numDeviceBlocks(), config.blockSize(),
                config.preemptionMode().name().toLowerCase(java.util.Locale.ROOT), host, server.port());
        out.printf("  POST /v1/completions   GET /v1/models   GET /health   GET /metrics%n");
        out.flush();
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Runtime.getRuntime().removeShutdownHook(hook);
            stop(server, drain, err);
        } finally {
            model.close();
        }
        return 0;
    }

    private static void stop(OpenAiServer server, int drainSeconds, PrintStream err) {
        try {
            server.shutdown(Duration.ofSeconds(drainSeconds));
        } catch (InterruptedException e) {
            server.close();
        }
        err.println("fulgur serve: stopped");
    }
}
