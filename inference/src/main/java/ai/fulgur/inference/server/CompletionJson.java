package ai.fulgur.inference.server;

import ai.fulgur.datasets.tokenizer.Tokenizer;
import ai.fulgur.inference.engine.CompletionOutput;
import ai.fulgur.inference.engine.TokenLogprob;
import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import java.util.List;

/**
 * The JSON bodies of {@code /v1/completions} in OpenAI's shapes: the response, a stream chunk, the usage object, the
 * logprobs object and the error object.
 */
final class CompletionJson {
    private CompletionJson() {}

    /** {@code {"id","object":"text_completion","created","model","choices":[...]}} without choices filled. */
    static JsonObject envelope(String id, long created, String model) {
        JsonObject o = new JsonObject();
        o.addProperty("id", id);
        o.addProperty("object", "text_completion");
        o.addProperty("created", created);
        o.addProperty("model", model);
        o.add("choices", new JsonArray());
        return o;
    }

    /** One choice: index, text, logprobs (or null), finish_reason (or null while streaming). */
    static JsonObject choice(int index, String text, JsonObject logprobs, String finishReason) {
        JsonObject c = new JsonObject();
        c.addProperty("index", index);
        c.addProperty("text", text);
        c.add("logprobs", logprobs == null ? JsonNull.INSTANCE : logprobs);
        if (finishReason == null) {
            c.add("finish_reason", JsonNull.INSTANCE);
        } else {
            c.addProperty("finish_reason", finishReason);
        }
        return c;
    }

    static JsonObject usage(int promptTokens, int completionTokens) {
        JsonObject u = new JsonObject();
        u.addProperty("prompt_tokens", promptTokens);
        u.addProperty("completion_tokens", completionTokens);
        u.addProperty("total_tokens", promptTokens + completionTokens);
        return u;
    }

    /**
     * {@code {tokens, token_logprobs, top_logprobs, text_offset}} for generated tokens {@code from … to − 1} of a
     * completion. Each token is shown as its own decoded text; text_offset is the character offset of the token in
     * the completion text (the sum of the preceding tokens' lengths).
     */
    static JsonObject logprobs(Tokenizer tokenizer, CompletionOutput c, int from, int to) {
        JsonArray tokens = new JsonArray();
        JsonArray tokenLogprobs = new JsonArray();
        JsonArray top = new JsonArray();
        JsonArray offsets = new JsonArray();
        List<TokenLogprob> lps = c.logprobs();
        int offset = 0;
        for (int i = 0; i < to; i++) {
            String piece = tokenizer.decode(new int[] {c.tokens()[i]});
            if (i >= from) {
                TokenLogprob lp = lps != null && i < lps.size() ? lps.get(i) : null;
                tokens.add(piece);
                offsets.add(offset);
                if (lp == null) {
                    tokenLogprobs.add(JsonNull.INSTANCE);
                    top.add(JsonNull.INSTANCE);
                } else {
                    tokenLogprobs.add(lp.logprob());
                    JsonObject alternatives = new JsonObject();
                    for (int k = 0; k < lp.topTokens().length; k++) {
                        String t = tokenizer.decode(new int[] {lp.topTokens()[k]});
                        if (!alternatives.has(t)) {
                            alternatives.addProperty(t, lp.topLogprobs()[k]);
                        }
                    }
                    if (!alternatives.has(piece)) {
                        alternatives.addProperty(piece, lp.logprob());
                    }
                    top.add(alternatives);
                }
            }
            offset += piece.length();
        }
        JsonObject o = new JsonObject();
        o.add("tokens", tokens);
        o.add("token_logprobs", tokenLogprobs);
        o.add("top_logprobs", top);
        o.add("text_offset", offsets);
        return o;
    }

    /** {@code {"error":{"message","type","param","code"}}}. */
    static JsonObject error(ApiException e) {
        JsonObject err = new JsonObject();
        err.addProperty("message", e.getMessage());
        err.addProperty("type", e.type());
        if (e.param() == null) {
            err.add("param", JsonNull.INSTANCE);
        } else {
            err.addProperty("param", e.param());
        }
        err.addProperty("code", e.code());
        JsonObject o = new JsonObject();
        o.add("error", err);
        return o;
    }
}
