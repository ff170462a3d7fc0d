package ai.fulgur.inference.server;

import com.google.gson.JsonElement;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** Writing a whole response body (JSON, error, text) on an exchange. */
final class HttpResponses {
    private HttpResponses() {}

    static void json(HttpExchange exchange, int status, JsonElement body) throws IOException {
        send(exchange, status, "application/json", body.toString());
    }

    static void send(HttpExchange exchange, int status, String contentType, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    /** The OpenAI error object with the exception's status; a client that is already gone is ignored. */
    static void error(HttpExchange exchange, ApiException e) {
        try {
            json(exchange, e.status(), CompletionJson.error(e));
        } catch (IOException | RuntimeException ignored) {
            // the client went away, or the headers were already sent; nothing more can be told to it
        }
    }
}
