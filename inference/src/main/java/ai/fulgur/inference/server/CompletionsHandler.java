package ai.fulgur.inference.server;

import ai.fulgur.datasets.tokenizer.Tokenizer;
import ai.fulgur.inference.engine.CompletionOutput;
import ai.fulgur.inference.engine.CompletionRequest;
import ai.fulgur.inference.engine.RequestOutput;
import ai.fulgur.inference.sampling.SamplingParams;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code POST /v1/completions}: validates the body, tokenizes the prompt, hands the request to the {@link EngineLoop}
 * and answers with one JSON response or, with {@code stream: true}, server-sent events (one {@code data: {chunk}}
 * per new piece of text, then {@code data: [DONE]}). A streaming client that goes away is noticed at the next write
 * and its request is cancelled, which frees its KV blocks.
 */
final class CompletionsHandler implements HttpHandler {
    private static final Logger LOG = Logger.getLogger(CompletionsHandler.class.getName());
    /** Bodies larger than this are refused (413) before parsing. */
    static final int MAX_BODY_BYTES = 1 << 20;

    private final EngineLoop loop;
    private final Tokenizer tokenizer;
    private final String modelName;
    private final int[] stopTokenIds;

    CompletionsHandler(EngineLoop loop, Tokenizer tokenizer, String modelName, int[] stopTokenIds) {
        this.loop = loop;
        this.tokenizer = tokenizer;
        this.modelName = modelName;
        this.stopTokenIds = stopTokenIds.clone();
    }

    @Override
    public void handle(HttpExchange exchange) {
        int status = 500;
        try {
            status = serve(exchange);
        } catch (ApiException e) {
            status = e.status();
            HttpResponses.error(exchange, e);
        } catch (IOException e) {
            status = 499; // the client went away
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, "completion failed", e);
            HttpResponses.error(exchange, new ApiException(500, "server_error", null, "internal_error",
                    "internal error: " + e));
        } finally {
            loop.metrics().countRequest(status);
            exchange.close();
        }
    }

    private int serve(HttpExchange exchange) throws IOException {
        if (!exchange.getRequestURI().getPath().equals("/v1/completions")) {
            throw new ApiException(404, "invalid_request_error", null, "not_found", "no route "
                    + exchange.getRequestURI().getPath() + "; try POST /v1/completions");
        }
        if (!exchange.getRequestMethod().equals("POST")) {
            exchange.getResponseHeaders().set("Allow", "POST");
            throw new ApiException(405, "invalid_request_error", null, "method_not_allowed",
                    exchange.getRequestMethod() + " is not allowed on /v1/completions; use POST");
        }
        String contentType = exchange.getRequestHeaders().getFirst("Content-Type");
        if (contentType != null && !contentType.toLowerCase(Locale.ROOT).contains("json")) {
            throw new ApiException(415, "invalid_request_error", null, "unsupported_media_type",
                    "Content-Type must be application/json, got " + contentType);
        }
        CompletionParams params = CompletionRequestParser.parse(readBody(exchange));
        if (params.model() != null && !params.model().equals(modelName)) {
            throw new ApiException(404, "invalid_request_error", "model", "model_not_found", "model '"
                    + params.model() + "' is not served here; this server serves '" + modelName + "'");
        }
        int[] prompt = promptTokens(params);
        checkLength(prompt.length, params.maxTokens());
        String id = "cmpl-" + UUID.randomUUID().toString().replace("-", "");
        CompletionRequest request;
        try {
            request = new CompletionRequest(id, prompt, new SamplingParams(params.temperature(), params.topK(),
                    params.topP(), params.seed(), params.maxTokens(), stopTokenIds), params.n(), params.bestOf(),
                    params.beamSearch(), params.logprobs() == null ? -1 : params.logprobs(), params.stop());
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(null, e.getMessage());
        }
        LinkedBlockingQueue<Object> events = new LinkedBlockingQueue<>();
        boolean accepted;
        try {
            accepted = loop.submit(request, new EngineLoop.Sink() {
                @Override
                public void onOutput(RequestOutput output) {
                    events.add(output);
                }

                @Override
                public void onFailure(RuntimeException error) {
                    events.add(error);
                }
            });
        } catch (IllegalStateException e) {
            throw unavailable(e.getMessage());
        }
        if (!accepted) {
            exchange.getResponseHeaders().set("Retry-After", "1");
            throw new ApiException(503, "server_error", null, "queue_full", "the server is busy: "
                    + loop.maxQueued() + " requests are already waiting for their first token (--max-queue); "
                    + "retry later");
        }
        long created = System.currentTimeMillis() / 1000;
        return params.stream()
                ? stream(exchange, events, id, created, params, prompt.length)
                : respond(exchange, events, id, created, params, prompt.length);
    }

    private int respond(HttpExchange exchange, LinkedBlockingQueue<Object> events, String id, long created,
            CompletionParams params, int promptTokens) throws IOException {
        RequestOutput last;
        do {
            last = nextOutput(events, id);
        } while (!last.finished());
        JsonObject body = CompletionJson.envelope(id, created, modelName);
        JsonArray choices = body.getAsJsonArray("choices");
        int completionTokens = 0;
        for (CompletionOutput c : sorted(last.outputs())) {
            completionTokens += c.tokens().length;
            choices.add(CompletionJson.choice(c.index(), c.text(), params.logprobs() == null ? null
                    : CompletionJson.logprobs(tokenizer, c, 0, c.tokens().length), c.finishReason()));
        }
        body.add("usage", CompletionJson.usage(promptTokens, completionTokens));
        HttpResponses.json(exchange, 200, body);
        return 200;
    }

    private int stream(HttpExchange exchange, LinkedBlockingQueue<Object> events, String id, long created,
            CompletionParams params, int promptTokens) throws IOException {
        // Wait for the first output before committing to 200, so an engine rejection is still a JSON error.
        RequestOutput out = nextOutput(events, id);
        exchange.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        exchange.getResponseHeaders().set("Cache-Control", "no-cache");
        exchange.sendResponseHeaders(200, 0);
        OutputStream body = exchange.getResponseBody();
        List<StreamedText> texts = new ArrayList<>();
        List<Boolean> done = new ArrayList<>();
        try {
            while (true) {
                for (CompletionOutput c : sorted(out.outputs())) {
                    while (texts.size() <= c.index()) {
                        texts.add(new StreamedText(params.stop()));
                        done.add(false);
                    }
                    if (done.get(c.index())) {
                        continue;
                    }
                    StreamedText t = texts.get(c.index());
                    String piece = t.next(c.text(), c.finished());
                    if (piece.isEmpty() && !c.finished()) {
                        continue;
                    }
                    JsonObject logprobs = null;
                    if (params.logprobs() != null) {
                        logprobs = CompletionJson.logprobs(tokenizer, c, t.sentTokens(), c.tokens().length);
                        t.sentTokens(c.tokens().length);
                    }
                    JsonObject chunk = CompletionJson.envelope(id, created, modelName);
                    chunk.getAsJsonArray("choices").add(CompletionJson.choice(c.index(), piece, logprobs,
                            c.finishReason()));
                    event(body, chunk.toString());
                    done.set(c.index(), c.finished());
                }
                if (out.finished()) {
                    break;
                }
                try {
                    out = nextOutput(events, id);
                } catch (ApiException e) {
                    // Headers are sent: the error goes into the stream, then the stream ends.
                    event(body, CompletionJson.error(e).toString());
                    event(body, "[DONE]");
                    return e.status();
                }
            }
            if (params.includeUsage()) {
                int completionTokens = 0;
                for (CompletionOutput c : out.outputs()) {
                    completionTokens += c.tokens().length;
                }
                JsonObject chunk = CompletionJson.envelope(id, created, modelName);
                chunk.add("usage", CompletionJson.usage(promptTokens, completionTokens));
                event(body, chunk.toString());
            }
            event(body, "[DONE]");
            return 200;
        } catch (IOException e) {
            loop.cancel(id); // the client disconnected: abort the request and free its blocks
            throw e;
        }
    }

    private static void event(OutputStream body, String data) throws IOException {
        body.write(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8));
        body.flush();
    }

    /** The next output of this request, or the failure the loop reported, as an ApiException. */
    private RequestOutput nextOutput(LinkedBlockingQueue<Object> events, String id) {
        while (true) {
            Object event;
            try {
                event = events.poll(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                loop.cancel(id);
                throw unavailable("the server is shutting down");
            }
            if (event == null) {
                if (!loop.alive()) {
                    loop.cancel(id);
                    throw unavailable("the engine loop is not running");
                }
                continue;
            }
            if (event instanceof RequestOutput out) {
                return out;
            }
            RuntimeException failure = (RuntimeException) event;
            if (failure instanceof IllegalArgumentException) {
                throw ApiException.invalid(null, "the engine rejected the request: " + failure.getMessage());
            }
            if (failure instanceof IllegalStateException) {
                throw unavailable(failure.getMessage());
            }
            if (failure instanceof EngineLoop.EngineFailure) {
                throw new ApiException(500, "server_error", null, "engine_error", failure.getMessage());
            }
            throw new ApiException(500, "server_error", null, "engine_error", "the engine failed: " + failure);
        }
    }

    private int[] promptTokens(CompletionParams params) {
        if (params.promptTokens() == null) {
            int[] ids = tokenizer.encode(params.promptText());
            if (ids.length == 0) {
                throw ApiException.invalid("prompt", "'prompt' encodes to no tokens");
            }
            return ids;
        }
        int[] ids = params.promptTokens();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] >= tokenizer.vocabSize()) {
                throw ApiException.invalid("prompt", "token id at prompt[" + i + "] must be < the vocabulary size "
                        + tokenizer.vocabSize() + ", got " + ids[i]);
            }
        }
        return ids;
    }

    private void checkLength(int promptTokens, int maxTokens) {
        int context = loop.contextLength();
        if (promptTokens >= context) {
            throw new ApiException(400, "invalid_request_error", "prompt", "context_length_exceeded", "the prompt "
                    + "has " + promptTokens + " tokens but this model's context is " + context + " tokens, which must "
                    + "also hold at least one generated token");
        }
        if ((long) promptTokens + maxTokens > context) {
            throw new ApiException(400, "invalid_request_error", "max_tokens", "context_length_exceeded", "this "
                    + "model's context is " + context + " tokens, but the request asks for " + (promptTokens
                    + (long) maxTokens) + " (" + promptTokens + " in the prompt, max_tokens " + maxTokens + "); "
                    + "lower max_tokens to at most " + (context - promptTokens));
        }
    }

    private static String readBody(HttpExchange exchange) throws IOException {
        try (InputStream in = exchange.getRequestBody()) {
            byte[] bytes = in.readNBytes(MAX_BODY_BYTES + 1);
            if (bytes.length > MAX_BODY_BYTES) {
                throw new ApiException(413, "invalid_request_error", null, "request_too_large",
                        "the request body is over " + MAX_BODY_BYTES + " bytes");
            }
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    private static ApiException unavailable(String message) {
        return new ApiException(503, "server_error", null, "unavailable", message);
    }

    private static List<CompletionOutput> sorted(List<CompletionOutput> outputs) {
        List<CompletionOutput> s = new ArrayList<>(outputs);
        s.sort(Comparator.comparingInt(CompletionOutput::index));
        return s;
    }
}
