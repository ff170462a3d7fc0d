package ai.fulgur.inference.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class CompletionRequestParserTest {

    private static ApiException refused(String body) {
        return assertThrows(ApiException.class, () -> CompletionRequestParser.parse(body));
    }

    @Test
    void defaultsFollowOpenAi() {
        CompletionParams p = CompletionRequestParser.parse("{\"prompt\":\"hi\"}");
        assertEquals("hi", p.promptText());
        assertNull(p.promptTokens());
        assertEquals(16, p.maxTokens());
        assertEquals(1.0, p.temperature());
        assertEquals(1.0, p.topP());
        assertEquals(0, p.topK());
        assertEquals(1, p.n());
        assertEquals(1, p.bestOf());
        assertFalse(p.beamSearch());
        assertNull(p.seed());
        assertEquals(List.of(), p.stop());
        assertNull(p.logprobs());
        assertFalse(p.stream());
        assertNull(p.model());
    }

    @Test
    void everyFieldIsRead() {
        CompletionParams p = CompletionRequestParser.parse("{\"model\":\"m\",\"prompt\":[5,6,7],\"max_tokens\":3.0,"
                + "\"temperature\":0.5,\"top_p\":0.9,\"top_k\":-1,\"n\":2,\"best_of\":4,\"use_beam_search\":true,"
                + "\"seed\":-9007199254740993,\"stop\":\"\\n\",\"logprobs\":0,\"echo\":false,\"stream\":true,"
                + "\"stream_options\":{\"include_usage\":true},\"user\":\"x\",\"n\":2}");
        assertEquals("m", p.model());
        assertArrayEquals(new int[] {5, 6, 7}, p.promptTokens());
        assertEquals(3, p.maxTokens());
        assertEquals(0.5, p.temperature());
        assertEquals(0.9, p.topP());
        assertEquals(0, p.topK()); // vLLM's -1: no limit
        assertEquals(2, p.n());
        assertEquals(4, p.bestOf());
        assertTrue(p.beamSearch());
        assertEquals(-9007199254740993L, p.seed()); // beyond double precision: read exactly
        assertEquals(List.of("\n"), p.stop());
        assertEquals(0, p.logprobs());
        assertTrue(p.stream());
        assertTrue(p.includeUsage());
    }

    @Test
    void nullMeansNotGiven() {
        CompletionParams p = CompletionRequestParser.parse("{\"prompt\":\"hi\",\"max_tokens\":null,\"stop\":null,"
                + "\"logprobs\":null,\"seed\":null}");
        assertEquals(16, p.maxTokens());
        assertNull(p.logprobs());
        assertNull(p.seed());
    }

    @Test
    void errorsNameTheField() {
        assertEquals("seed", refused("{\"prompt\":\"hi\",\"seed\":1e30}").param());
        assertEquals("seed", refused("{\"prompt\":\"hi\",\"seed\":1.5}").param());
        assertEquals("stop", refused("{\"prompt\":\"hi\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}").param());
        assertEquals("stop", refused("{\"prompt\":\"hi\",\"stop\":[\"\"]}").param());
        assertEquals("top_k", refused("{\"prompt\":\"hi\",\"top_k\":-2}").param());
        assertEquals("n", refused("{\"prompt\":\"hi\",\"n\":17}").param());
        assertEquals("temperature", refused("{\"prompt\":\"hi\",\"temperature\":1e400}").param());
        assertEquals("stream_options", refused("{\"prompt\":\"hi\",\"stream_options\":{\"include_usage\":true}}")
                .param());
        assertEquals("stream_options", refused("{\"prompt\":\"hi\",\"stream\":true,\"stream_options\":{\"x\":1}}")
                .param());
        assertEquals("use_beam_search", refused("{\"prompt\":\"hi\",\"use_beam_search\":1}").param());
        assertEquals("prompt", refused("{\"prompt\":[1,-2]}").param());
        assertEquals("prompt", refused("{\"prompt\":[[1,2]]}").param());
        assertEquals("prompt", refused("{\"prompt\":{}}").param());
        assertEquals("model", refused("{\"prompt\":\"hi\",\"model\":3}").param());
        assertEquals("user", refused("{\"prompt\":\"hi\",\"user\":[]}").param());
        ApiException unknown = refused("{\"prompt\":\"hi\",\"frequency_penalty\":0.5}");
        assertEquals("frequency_penalty", unknown.param());
        assertEquals("unknown_field", unknown.code());
        ApiException type = refused("{\"prompt\":\"hi\",\"max_tokens\":\"5\"}");
        assertEquals("invalid_type", type.code());
        assertTrue(type.getMessage().contains("\"5\""), type.getMessage());
        ApiException range = refused("{\"prompt\":\"hi\",\"logprobs\":9}");
        assertTrue(range.getMessage().contains("[0, 5]") && range.getMessage().contains("9"), range.getMessage());
        ApiException json = refused("{\"prompt\":NaN}");
        assertEquals(400, json.status());
        assertEquals("invalid_json", json.code());
        assertEquals("invalid_json", refused("{\"prompt\":\"hi\",}").code());
        assertEquals("invalid_json", refused("null").code());
        assertEquals("invalid_json", refused("   ").code());
    }
}
