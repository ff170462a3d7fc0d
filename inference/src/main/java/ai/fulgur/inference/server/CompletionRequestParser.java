package ai.fulgur.inference.server;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.TypeAdapter;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a {@code POST /v1/completions} JSON body into {@link CompletionParams}, rejecting malformed JSON, unknown
 * fields, wrong types and out-of-range values with an {@link ApiException} that names the field. JSON {@code null}
 * means "not given" (the default applies), as in OpenAI's API.
 */
public final class CompletionRequestParser {
    /** The most completions (n) and candidates (best_of) one request may ask for. */
    public static final int MAX_CANDIDATES = 16;
    /** The most stop strings, as in OpenAI's API. */
    public static final int MAX_STOP_STRINGS = 4;
    /** The most top log-probabilities per token, as in OpenAI's API. */
    public static final int MAX_LOGPROBS = 5;

    private static final Set<String> FIELDS = Set.of("model", "prompt", "max_tokens", "temperature", "top_p",
            "top_k", "n", "best_of", "use_beam_search", "seed", "stop", "logprobs", "echo", "stream",
            "stream_options", "user");
    private static final TypeAdapter<JsonElement> JSON = new Gson().getAdapter(JsonElement.class);

    private CompletionRequestParser() {}

    /** Parses and checks one request body. */
    public static CompletionParams parse(String body) {
        JsonObject o = parseObject(body);
        for (String key : o.keySet()) {
            if (!FIELDS.contains(key)) {
                throw new ApiException(400, "invalid_request_error", key, "unknown_field", "unknown field '" + key
                        + "'; /v1/completions accepts " + String.join(", ", FIELDS.stream().sorted().toList()));
            }
        }
        String model = string(o, "model");
        String promptText = null;
        int[] promptTokens = null;
        JsonElement prompt = present(o, "prompt");
        if (prompt == null) {
            throw ApiException.invalid("prompt", "'prompt' is required (a string or an array of token ids)");
        }
        if (isString(prompt)) {
            promptText = prompt.getAsString();
            if (promptText.isEmpty()) {
                throw ApiException.invalid("prompt", "'prompt' must not be empty");
            }
        } else if (prompt.isJsonArray()) {
            promptTokens = tokenIds(prompt.getAsJsonArray());
        } else {
            throw ApiException.wrongType("prompt", "a string or an array of token ids", describe(prompt));
        }
        int maxTokens = integer(o, "max_tokens", 16, 1, Integer.MAX_VALUE);
        double temperature = number(o, "temperature", 1.0);
        if (!(temperature >= 0)) {
            throw ApiException.invalid("temperature", "'temperature' must be >= 0 (0: greedy), got " + temperature);
        }
        double topP = number(o, "top_p", 1.0);
        if (!(topP > 0 && topP <= 1)) {
            throw ApiException.invalid("top_p", "'top_p' must be in (0, 1], got " + topP);
        }
        // vLLM spells "no limit" -1, Hugging Face 0; both mean no limit here.
        int topK = integer(o, "top_k", 0, -1, Integer.MAX_VALUE);
        topK = Math.max(topK, 0);
        int n = integer(o, "n", 1, 1, MAX_CANDIDATES);
        int bestOf = integer(o, "best_of", n, 1, MAX_CANDIDATES);
        if (bestOf < n) {
            throw ApiException.invalid("best_of", "'best_of' must be >= n (" + n + "), got " + bestOf);
        }
        boolean beamSearch = bool(o, "use_beam_search", false);
        Long seed = null;
        JsonElement seedValue = present(o, "seed");
        if (seedValue != null) {
            BigDecimal s = integral(seedValue, "seed", "an integer");
            try {
                seed = s.longValueExact();
            } catch (ArithmeticException e) {
                throw ApiException.invalid("seed", "'seed' must fit in 64 bits, got " + s);
            }
        }
        List<String> stop = stopStrings(present(o, "stop"));
        Integer logprobs = null;
        if (present(o, "logprobs") != null) {
            logprobs = integer(o, "logprobs", 0, 0, MAX_LOGPROBS);
        }
        if (bool(o, "echo", false)) {
            throw ApiException.invalid("echo", "'echo' is not supported; send echo: false or leave it out");
        }
        boolean stream = bool(o, "stream", false);
        boolean includeUsage = false;
        JsonElement options = present(o, "stream_options");
        if (options != null) {
            if (!options.isJsonObject()) {
                throw ApiException.wrongType("stream_options", "an object", describe(options));
            }
            if (!stream) {
                throw ApiException.invalid("stream_options", "'stream_options' is only allowed with stream: true");
            }
            for (Map.Entry<String, JsonElement> e : options.getAsJsonObject().entrySet()) {
                if (!e.getKey().equals("include_usage")) {
                    throw ApiException.invalid("stream_options", "unknown field 'stream_options." + e.getKey()
                            + "'; only include_usage is accepted");
                }
            }
            includeUsage = bool(options.getAsJsonObject(), "include_usage", false);
        }
        JsonElement user = present(o, "user");
        if (user != null && !isString(user)) {
            throw ApiException.wrongType("user", "a string", describe(user));
        }
        return new CompletionParams(model, promptText, promptTokens, maxTokens, temperature, topP, topK, n, bestOf,
                beamSearch, seed, stop, logprobs, stream, includeUsage);
    }

    private static JsonObject parseObject(String body) {
        if (body == null || body.isBlank()) {
            throw new ApiException(400, "invalid_request_error", null, "invalid_json",
                    "the request body is empty; expected a JSON object");
        }
        JsonElement root;
        try (JsonReader reader = new JsonReader(new StringReader(body))) {
            reader.setStrictness(Strictness.STRICT);
            root = JSON.read(reader);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new JsonParseException("unexpected content after the JSON value at " + reader.getPath());
            }
        } catch (IOException | JsonParseException | IllegalStateException | NumberFormatException e) {
            throw new ApiException(400, "invalid_request_error", null, "invalid_json",
                    "the request body is not valid JSON: " + e.getMessage());
        }
        if (root == null || !root.isJsonObject()) {
            throw new ApiException(400, "invalid_request_error", null, "invalid_json",
                    "the request body must be a JSON object, got " + describe(root));
        }
        return root.getAsJsonObject();
    }

    private static int[] tokenIds(JsonArray a) {
        if (a.isEmpty()) {
            throw ApiException.invalid("prompt", "'prompt' must not be empty");
        }
        int[] ids = new int[a.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonElement e = a.get(i);
            if (isString(e) || e.isJsonArray()) {
                throw ApiException.invalid("prompt", "batched prompts (an array of strings or of token arrays) are"
                        + " not supported; send one prompt per request");
            }
            BigDecimal v = integral(e, "prompt", "an array of token ids (integers)");
            if (v.signum() < 0 || v.compareTo(BigDecimal.valueOf(Integer.MAX_VALUE)) > 0) {
                throw ApiException.invalid("prompt", "token id at prompt[" + i + "] must be >= 0, got " + v);
            }
            ids[i] = v.intValueExact();
        }
        return ids;
    }

    private static List<String> stopStrings(JsonElement e) {
        if (e == null) {
            return List.of();
        }
        List<String> stop = new ArrayList<>();
        if (isString(e)) {
            stop.add(e.getAsString());
        } else if (e.isJsonArray()) {
            for (JsonElement s : e.getAsJsonArray()) {
                if (!isString(s)) {
                    throw ApiException.wrongType("stop", "a string or an array of strings", describe(e));
                }
                stop.add(s.getAsString());
            }
        } else {
            throw ApiException.wrongType("stop", "a string or an array of strings", describe(e));
        }
        if (stop.size() > MAX_STOP_STRINGS) {
            throw ApiException.invalid("stop", "'stop' takes at most " + MAX_STOP_STRINGS + " strings, got "
                    + stop.size());
        }
        if (stop.contains("")) {
            throw ApiException.invalid("stop", "stop strings must not be empty");
        }
        return List.copyOf(stop);
    }

    private static JsonElement present(JsonObject o, String name) {
        JsonElement e = o.get(name);
        return e == null || e.isJsonNull() ? null : e;
    }

    private static String string(JsonObject o, String name) {
        JsonElement e = present(o, name);
        if (e == null) {
            return null;
        }
        if (!isString(e)) {
            throw ApiException.wrongType(name, "a string", describe(e));
        }
        return e.getAsString();
    }

    private static boolean bool(JsonObject o, String name, boolean fallback) {
        JsonElement e = present(o, name);
        if (e == null) {
            return fallback;
        }
        if (!(e.isJsonPrimitive() && e.getAsJsonPrimitive().isBoolean())) {
            throw ApiException.wrongType(name, "true or false", describe(e));
        }
        return e.getAsBoolean();
    }

    private static double number(JsonObject o, String name, double fallback) {
        JsonElement e = present(o, name);
        if (e == null) {
            return fallback;
        }
        if (!isNumber(e)) {
            throw ApiException.wrongType(name, "a number", describe(e));
        }
        double v = e.getAsDouble();
        if (!Double.isFinite(v)) {
            throw ApiException.invalid(name, "'" + name + "' must be finite, got " + e);
        }
        return v;
    }

    private static int integer(JsonObject o, String name, int fallback, int min, int max) {
        JsonElement e = present(o, name);
        if (e == null) {
            return fallback;
        }
        BigDecimal v = integral(e, name, "an integer");
        if (v.compareTo(BigDecimal.valueOf(min)) < 0 || v.compareTo(BigDecimal.valueOf(max)) > 0) {
            throw ApiException.invalid(name, "'" + name + "' must be in [" + min + ", " + max + "], got "
                    + v.toPlainString());
        }
        return v.intValueExact();
    }

    private static BigDecimal integral(JsonElement e, String name, String expected) {
        if (!isNumber(e)) {
            throw ApiException.wrongType(name, expected, describe(e));
        }
        BigDecimal v;
        try {
            v = new BigDecimal(e.getAsString());
        } catch (NumberFormatException ex) {
            throw ApiException.wrongType(name, expected, e.getAsString());
        }
        if (v.signum() != 0 && v.stripTrailingZeros().scale() > 0) {
            throw ApiException.wrongType(name, expected, v.toPlainString());
        }
        return v;
    }

    private static boolean isString(JsonElement e) {
        return e.isJsonPrimitive() && e.getAsJsonPrimitive().isString();
    }

    private static boolean isNumber(JsonElement e) {
        return e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber();
    }

    /** The JSON type and a short excerpt, for messages. */
    static String describe(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return "null";
        }
        String text = e.toString();
        if (text.length() > 40) {
            text = text.substring(0, 40) + "…";
        }
        String kind = e.isJsonObject() ? "an object" : e.isJsonArray() ? "an array"
                : ((JsonPrimitive) e).isString() ? "a string" : ((JsonPrimitive) e).isBoolean() ? "a boolean"
                : "a number";
        return kind + " (" + text + ")";
    }
}
