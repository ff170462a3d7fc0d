package ai.fulgur.training.gpt2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.activation.GeluForm;
import ai.fulgur.training.checkpoint.CheckpointException;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Gpt2ConfigTest {
    @TempDir
    Path dir;

    /** The fixture's config.json, written by transformers 5.17.0, reads as the values make_fixtures.py gave it. */
    @Test
    void readsTransformersConfig() throws IOException {
        Gpt2Config c = Gpt2Config.read(Gpt2TestSupport.fixtureDir().resolve("config.json"));
        assertEquals(2, c.nLayer());
        assertEquals(4, c.nHead());
        assertEquals(48, c.nEmbd());
        assertEquals(64, c.nPositions());
        assertEquals(509, c.vocabSize());
        assertEquals(192, c.mlpHiddenSize());
        assertEquals(0f, c.residPdrop());
        assertEquals(1e-5f, c.layerNormEpsilon());
        assertEquals(GeluForm.TANH, c.geluForm());
        assertTrue(c.tieWordEmbeddings());
        assertEquals(50256, c.eosTokenId());
    }

    @Test
    void writtenConfigReadsBackEqualWithTransformersFields() throws IOException {
        Gpt2Config c = Gpt2Config.small().toBuilder().vocabSize(1000).nInner(1000).tieWordEmbeddings(false).build();
        Path file = dir.resolve("config.json");
        c.write(file);
        assertEquals(c, Gpt2Config.read(file));
        JsonObject json = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        assertEquals("gpt2", json.get("model_type").getAsString());
        assertEquals("GPT2LMHeadModel", json.getAsJsonArray("architectures").get(0).getAsString());
        assertEquals("gelu_new", json.get("activation_function").getAsString());
        assertEquals(1000, json.get("n_inner").getAsInt());
        // unset n_inner is written as null, as transformers writes it
        Gpt2Config.tiny().write(file);
        assertTrue(JsonParser.parseString(Files.readString(file)).getAsJsonObject().get("n_inner").isJsonNull());
    }

    /** Preset sizes against the published parameter counts of GPT-2 small and medium (tied head counted once). */
    @Test
    void presetsHaveGpt2Sizes() {
        assertEquals(124_439_808L, Gpt2.parameterCount(Gpt2Config.gpt2Small124m()));
        assertEquals(354_823_168L, Gpt2.parameterCount(Gpt2Config.gpt2Medium355m()));
        assertEquals(Gpt2Config.gpt2Small124m(), Gpt2Config.preset("124m"));
        Gpt2Config tiny = Gpt2Config.preset("tiny");
        assertEquals(2, tiny.nLayer());
        assertEquals(128, tiny.nEmbd());
        assertEquals(6, Gpt2Config.preset("small").nLayer());
        assertEquals(24, Gpt2Config.preset("355m").nLayer());
        assertThrows(IllegalArgumentException.class, () -> Gpt2Config.preset("huge"));
    }

    @Test
    void invalidValuesNameTheFieldAndValue() {
        assertMessage("n_embd 100 is not divisible by n_head 12",
                () -> Gpt2Config.builder().nEmbd(100).nHead(12).build());
        assertMessage("n_layer must be positive, got 0", () -> Gpt2Config.builder().nLayer(0).build());
        assertMessage("resid_pdrop must be in [0, 1), got 1.5", () -> Gpt2Config.builder().residPdrop(1.5f).build());
        assertMessage("activation_function 'relu' is not supported",
                () -> Gpt2Config.builder().activationFunction("relu").build());
        assertMessage("model_type is 'bert', expected 'gpt2'", () -> Gpt2Config.fromJson("{\"model_type\": \"bert\"}"));
        assertMessage("n_head must be an integer, got \"twelve\"",
                () -> Gpt2Config.fromJson("{\"n_head\": \"twelve\"}"));
        assertMessage("scale_attn_by_inverse_layer_idx true is not supported",
                () -> Gpt2Config.fromJson("{\"scale_attn_by_inverse_layer_idx\": true}"));
        assertMessage("not valid JSON", () -> Gpt2Config.fromJson("{\"n_head\": "));
    }

    @Test
    void missingOrBrokenFileIsACheckpointErrorNamingIt() throws IOException {
        Path missing = dir.resolve("config.json");
        CheckpointException e = assertThrows(CheckpointException.class, () -> Gpt2Config.read(missing));
        assertTrue(e.getMessage().contains(missing.toString()) && e.getMessage().contains("missing"), e.getMessage());
        Files.writeString(missing, "{\"n_embd\": 10, \"n_head\": 3}");
        e = assertThrows(CheckpointException.class, () -> Gpt2Config.read(missing));
        assertTrue(e.getMessage().contains("n_embd 10 is not divisible by n_head 3"), e.getMessage());
    }

    private static void assertMessage(String expected, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' lacks '" + expected + "'");
    }
}
