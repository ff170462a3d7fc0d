package ai.fulgur.inference.server;

import ai.fulgur.datasets.tokenizer.Tokenizer;
import ai.fulgur.inference.engine.EngineStats;
import ai.fulgur.inference.server.metrics.MetricsRegistry;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The OpenAI-compatible HTTP server over an {@link EngineLoop}, on the JDK's {@code com.sun.net.httpserver} with one
 * virtual thread per exchange:
 * <ul>
 *   <li>{@code POST /v1/completions} — {@link CompletionsHandler};</li>
 *   <li>{@code GET /v1/models} — the one served model;</li>
 *   <li>{@code GET /health} — 200 while the engine loop is alive, 503 otherwise;</li>
 *   <li>{@code GET /metrics} — {@link ServingMetrics} in the Prometheus text format.</li>
 * </ul>
 * Any other path is a 404 with an OpenAI error body.
 */
public final class OpenAiServer implements AutoCloseable {
    private final HttpServer http;
    private final ExecutorService executor;
    private final EngineLoop loop;
    private final String modelName;
    private final long created = System.currentTimeMillis() / 1000;

    /**
     * Binds and starts serving.
     *
     * @param loop         the started engine loop (this server shuts it down on close)
     * @param tokenizer    the model's tokenizer
     * @param modelName    the name clients see in /v1/models and may pass as "model"
     * @param stopTokenIds tokens that end every completion (e.g. GPT-2's end-of-text)
     * @param address      host and port; port 0 picks a free one (see {@link #port()})
     */
    public OpenAiServer(EngineLoop loop, Tokenizer tokenizer, String modelName, int[] stopTokenIds,
            InetSocketAddress address) throws IOException {
        this.loop = loop;
        this.modelName = modelName;
        this.http = HttpServer.create(address, 128);
        this.executor = Executors.newVirtualThreadPerTaskExecutor();
        http.setExecutor(executor);
        http.createContext("/v1/completions", new CompletionsHandler(loop, tokenizer, modelName, stopTokenIds));
        http.createContext("/v1/models", get("/v1/models", this::models));
        http.createContext("/health", get("/health", this::health));
        http.createContext("/metrics", get("/metrics", exchange -> HttpResponses.send(exchange, 200,
                MetricsRegistry.CONTENT_TYPE, loop.metrics().render())));
        http.createContext("/", get(null, exchange -> {
            throw new ApiException(404, "invalid_request_error", null, "not_found", "no route "
                    + exchange.getRequestURI().getPath() + "; the routes are POST /v1/completions, GET /v1/models, "
                    + "GET /health, GET /metrics");
        }));
        http.start();
    }

    /** The bound port. */
    public int port() {
        return http.getAddress().getPort();
    }

    /** The engine loop behind this server. */
    public EngineLoop loop() {
        return loop;
    }

    private void models(HttpExchange exchange) throws IOException {
        JsonObject model = new JsonObject();
        model.addProperty("id", modelName);
        model.addProperty("object", "model");
        model.addProperty("created", created);
        model.addProperty("owned_by", "fulgur");
        model.addProperty("max_model_len", loop.contextLength());
        JsonArray data = new JsonArray();
        data.add(model);
        JsonObject list = new JsonObject();
        list.addProperty("object", "list");
        list.add("data", data);
        HttpResponses.json(exchange, 200, list);
    }

    private void health(HttpExchange exchange) throws IOException {
        boolean alive = loop.alive();
        EngineStats s = loop.metrics().stats();
        JsonObject o = new JsonObject();
        o.addProperty("status", alive ? "ok" : "unavailable");
        o.addProperty("model", modelName);
        o.addProperty("running", s.running());
        o.addProperty("waiting", s.waiting());
        o.addProperty("swapped", s.swapped());
        o.addProperty("queued", loop.queued());
        o.addProperty("kv_blocks_used", s.deviceKv().usedBlocks());
        o.addProperty("kv_blocks_total", s.deviceKv().totalBlocks());
        if (loop.crash() != null) {
            o.addProperty("error", loop.crash().toString());
        }
        HttpResponses.json(exchange, alive ? 200 : 503, o);
    }

    private interface Route {
        void serve(HttpExchange exchange) throws IOException;
    }

    /** A GET-only route on exactly {@code path} (null: any path), answering errors as OpenAI error bodies. */
    private static HttpHandler get(String path, Route route) {
        return exchange -> {
            try {
                if (path != null && !exchange.getRequestURI().getPath().equals(path)) {
                    throw new ApiException(404, "invalid_request_error", null, "not_found", "no route "
                            + exchange.getRequestURI().getPath());
                }
                if (path != null && !exchange.getRequestMethod().equals("GET")) {
                    exchange.getResponseHeaders().set("Allow", "GET");
                    throw new ApiException(405, "invalid_request_error", null, "method_not_allowed",
                            exchange.getRequestMethod() + " is not allowed on " + path + "; use GET");
                }
                route.serve(exchange);
            } catch (ApiException e) {
                HttpResponses.error(exchange, e);
            } catch (IOException ignored) {
                // the client went away
            } finally {
                exchange.close();
            }
        };
    }

    /** Stops accepting connections, lets live requests finish for up to {@code drain}, then aborts the rest. */
    public void shutdown(Duration drain) throws InterruptedException {
        loop.shutdown(drain);
        http.stop(0);
        executor.shutdownNow();
    }

    @Override
    public void close() {
        try {
            shutdown(Duration.ZERO);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
