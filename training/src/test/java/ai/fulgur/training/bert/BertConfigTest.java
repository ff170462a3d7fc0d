package ai.fulgur.training.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.training.checkpoint.CheckpointException;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BertConfigTest {
    @TempDir
    Path dir;

    /** The values transformers wrote into the fixtures' config.json (see tools/hf-fixtures/make_fixtures.py). */
    @Test
    void readsTransformersConfigJson() throws IOException {
        BertConfig mlm = BertConfig.read(BertTestSupport.fixture("bert-mlm-tiny"));
        assertEquals(new BertConfig(311, 48, 2, 4, 96, 64, 2, 0f, 0f, 1e-12f, "gelu", 0.02f, 2), mlm);
        // the classifier's label count comes from id2label (transformers writes no num_labels)
        BertConfig cls = BertConfig.read(BertTestSupport.fixture("bert-cls-tiny"));
        assertEquals(3, cls.numLabels());
        assertEquals(mlm.withNumLabels(3), cls);
    }

    @Test
    void absentFieldsTakeTransformersDefaults() {
        BertConfig c = BertConfig.fromJson("{\"model_type\": \"bert\"}");
        assertEquals(new BertConfig(30522, 768, 12, 12, 3072, 512, 2, 0.1f, 0.1f, 1e-12f, "gelu", 0.02f, 2), c);
        assertEquals(BertConfig.base(), c);
    }

    @Test
    void presets() {
        BertConfig base = BertConfig.base();
        assertEquals(12, base.numHiddenLayers());
        assertEquals(768, base.hiddenSize());
        assertEquals(12, base.numAttentionHeads());
        assertEquals(3072, base.intermediateSize());
        assertEquals(30522, base.vocabSize());
        assertEquals(512, base.maxPositionEmbeddings());
        assertEquals(64, base.headSize());
        assertEquals(4, BertConfig.mini().numHiddenLayers());
        assertEquals(256, BertConfig.mini().hiddenSize());
        assertEquals(1e-12f, BertConfig.tiny().layerNormEps());
    }

    @Test
    void writeThenReadGivesTheSameConfigAndTransformersFields() throws IOException {
        BertConfig c = BertConfig.mini().withNumLabels(5).withVocabSize(1000);
        c.write(dir, BertConfig.SEQUENCE_CLASSIFICATION);
        assertEquals(c, BertConfig.read(dir));
        JsonObject o = JsonParser.parseString(Files.readString(dir.resolve("config.json"))).getAsJsonObject();
        assertEquals("bert", o.get("model_type").getAsString());
        assertEquals(BertConfig.SEQUENCE_CLASSIFICATION, o.getAsJsonArray("architectures").get(0).getAsString());
        assertEquals(5, o.getAsJsonObject("id2label").size());
        assertEquals("LABEL_4", o.getAsJsonObject("id2label").get("4").getAsString());
        assertEquals(4, o.getAsJsonObject("label2id").get("LABEL_4").getAsInt());
        assertEquals(1e-12, o.get("layer_norm_eps").getAsDouble(), 1e-20);
        assertEquals("gelu", o.get("hidden_act").getAsString());

        BertConfig.tiny().write(dir, BertConfig.MASKED_LM);
        o = JsonParser.parseString(Files.readString(dir.resolve("config.json"))).getAsJsonObject();
        assertEquals(BertConfig.MASKED_LM, o.getAsJsonArray("architectures").get(0).getAsString());
        assertTrue(!o.has("id2label"), "a masked-LM config has no labels");
    }

    @Test
    void invalidValuesNameTheFieldAndValue() {
        assertMessage("hidden_size 50 must be a multiple of num_attention_heads 4",
                "{\"hidden_size\": 50, \"num_attention_heads\": 4}");
        assertMessage("vocab_size must be positive, got -1", "{\"vocab_size\": -1}");
        assertMessage("hidden_dropout_prob must be in [0, 1), got 1.5", "{\"hidden_dropout_prob\": 1.5}");
        assertMessage("layer_norm_eps must be positive and finite, got 0.0", "{\"layer_norm_eps\": 0}");
        assertMessage("hidden_act must be \"gelu\"", "{\"hidden_act\": \"relu\"}");
        assertMessage("model_type must be \"bert\", got \"gpt2\"", "{\"model_type\": \"gpt2\"}");
        assertMessage("num_hidden_layers must be an integer, got 2.5", "{\"num_hidden_layers\": 2.5}");
        assertMessage("intermediate_size must be an integer, got [3]", "{\"intermediate_size\": [3]}");
        assertMessage("config.json is not valid JSON", "{\"vocab_size\": ");
        assertMessage("position_embedding_type must be \"absolute\" (learned positions), got \"relative_key\"",
                "{\"position_embedding_type\": \"relative_key\"}");
        assertMessage("is_decoder must be false", "{\"is_decoder\": true}");
    }

    @Test
    void missingOrInvalidFileNamesThePath() throws IOException {
        CheckpointException e = assertThrows(CheckpointException.class, () -> BertConfig.read(dir));
        assertTrue(e.getMessage().contains(dir.resolve("config.json").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("not found"), e.getMessage());
        Files.writeString(dir.resolve("config.json"), "{\"num_attention_heads\": 0}");
        e = assertThrows(CheckpointException.class, () -> BertConfig.read(dir));
        assertTrue(e.getMessage().contains("config.json: num_attention_heads must be positive, got 0"),
                e.getMessage());
    }

    private static void assertMessage(String expected, String json) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BertConfig.fromJson(json));
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }
}
