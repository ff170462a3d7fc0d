package ai.fulgur.training.bert;

import ai.fulgur.training.checkpoint.AtomicFiles;
import ai.fulgur.training.checkpoint.CheckpointException;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The hyper-parameters of a BERT model, named and defaulted as in Hugging Face's {@code BertConfig}, read from and
 * written to its {@code config.json}. Only what the Fulgur blocks use is kept: absolute position embeddings, GELU in
 * its exact erf form ({@code hidden_act "gelu"}), no cross-attention.
 *
 * @param vocabSize                 V, rows of the word embedding and columns of the MLM logits
 * @param hiddenSize                C, the width of every layer; a multiple of {@code numAttentionHeads}
 * @param numHiddenLayers           L, encoder layers
 * @param numAttentionHeads         heads per layer; head size C / heads
 * @param intermediateSize          the feed-forward width (4·C in the published models)
 * @param maxPositionEmbeddings     the longest sequence, rows of the position embedding
 * @param typeVocabSize             segments (token types), rows of the token-type embedding
 * @param hiddenDropoutProb         dropout on embeddings, residual branches and the classifier input, in training
 * @param attentionProbsDropoutProb dropout of the attention weights, in training
 * @param layerNormEps              the epsilon of every LayerNorm (1e-12 in BERT)
 * @param hiddenAct                 the activation of the feed-forward and MLM transform; only "gelu" (erf)
 * @param initializerRange          standard deviation of the normal initialisation of weights (0.02)
 * @param numLabels                 classes of {@link BertForSequenceClassification}
 */
public record BertConfig(int vocabSize, int hiddenSize, int numHiddenLayers, int numAttentionHeads,
        int intermediateSize, int maxPositionEmbeddings, int typeVocabSize, float hiddenDropoutProb,
        float attentionProbsDropoutProb, float layerNormEps, String hiddenAct, float initializerRange,
        int numLabels) {

    /** The Hugging Face {@code architectures} entry of a masked-LM checkpoint. */
    public static final String MASKED_LM = "BertForMaskedLM";
    /** The Hugging Face {@code architectures} entry of a sequence-classification checkpoint. */
    public static final String SEQUENCE_CLASSIFICATION = "BertForSequenceClassification";

    /** Validates every field; the message names the field (as in config.json) and its value. */
    public BertConfig {
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("num_hidden_layers", numHiddenLayers);
        positive("num_attention_heads", numAttentionHeads);
        positive("intermediate_size", intermediateSize);
        positive("max_position_embeddings", maxPositionEmbeddings);
        positive("type_vocab_size", typeVocabSize);
        positive("num_labels", numLabels);
        if (hiddenSize % numAttentionHeads != 0) {
            throw new IllegalArgumentException("hidden_size " + hiddenSize + " must be a multiple of "
                    + "num_attention_heads " + numAttentionHeads + " (head size = hidden_size / heads)");
        }
        probability("hidden_dropout_prob", hiddenDropoutProb);
        probability("attention_probs_dropout_prob", attentionProbsDropoutProb);
        if (!(layerNormEps > 0 && Float.isFinite(layerNormEps))) {
            throw new IllegalArgumentException("layer_norm_eps must be positive and finite, got " + layerNormEps);
        }
        if (!(initializerRange > 0 && Float.isFinite(initializerRange))) {
            throw new IllegalArgumentException("initializer_range must be positive and finite, got "
                    + initializerRange);
        }
        if (!"gelu".equals(hiddenAct)) {
            throw new IllegalArgumentException("hidden_act must be \"gelu\" (the exact erf form, BERT's), got "
                    + (hiddenAct == null ? "null" : "\"" + hiddenAct + "\""));
        }
    }

    private static void positive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(field + " must be positive, got " + value);
        }
    }

    private static void probability(String field, float value) {
        if (!(value >= 0 && value < 1)) {
            throw new IllegalArgumentException(field + " must be in [0, 1), got " + value);
        }
    }

    // -----------------------------------------------------------------------------------------------------------------
    // presets

    /** A 2-layer model of width 32 (2 heads, vocabulary 100, 64 positions) for tests on the CPU; no dropout. */
    public static BertConfig tiny() {
        return new BertConfig(100, 32, 2, 2, 64, 64, 2, 0f, 0f, 1e-12f, "gelu", 0.02f, 2);
    }

    /** A 4-layer model of width 256 (4 heads, 1024 feed-forward, BERT's vocabulary and 512 positions). */
    public static BertConfig mini() {
        return new BertConfig(30522, 256, 4, 4, 1024, 512, 2, 0.1f, 0.1f, 1e-12f, "gelu", 0.02f, 2);
    }

    /** BERT-base: 12 layers of width 768, 12 heads, 3072 feed-forward, vocabulary 30522, 512 positions. */
    public static BertConfig base() {
        return new BertConfig(30522, 768, 12, 12, 3072, 512, 2, 0.1f, 0.1f, 1e-12f, "gelu", 0.02f, 2);
    }

    /** This configuration with another vocabulary size (a tokenizer's). */
    public BertConfig withVocabSize(int v) {
        return new BertConfig(v, hiddenSize, numHiddenLayers, numAttentionHeads, intermediateSize,
                maxPositionEmbeddings, typeVocabSize, hiddenDropoutProb, attentionProbsDropoutProb, layerNormEps,
                hiddenAct, initializerRange, numLabels);
    }

    /** This configuration with another number of classes. */
    public BertConfig withNumLabels(int labels) {
        return new BertConfig(vocabSize, hiddenSize, numHiddenLayers, numAttentionHeads, intermediateSize,
                maxPositionEmbeddings, typeVocabSize, hiddenDropoutProb, attentionProbsDropoutProb, layerNormEps,
                hiddenAct, initializerRange, labels);
    }

    /** This configuration with other hidden and attention dropout probabilities. */
    public BertConfig withDropout(float hidden, float attention) {
        return new BertConfig(vocabSize, hiddenSize, numHiddenLayers, numAttentionHeads, intermediateSize,
                maxPositionEmbeddings, typeVocabSize, hidden, attention, layerNormEps, hiddenAct, initializerRange,
                numLabels);
    }

    /** Head size: hidden size / heads. */
    public int headSize() {
        return hiddenSize / numAttentionHeads;
    }

    // -----------------------------------------------------------------------------------------------------------------
    // config.json

    /**
     * Parses a Hugging Face config.json. Absent fields take Hugging Face's defaults (BERT-base's sizes, dropouts 0.1,
     * eps 1e-12); the number of labels is {@code num_labels}, else the size of {@code id2label}, else 2. Fields the
     * blocks do not use are ignored ({@code classifier_dropout} among them: the classifier's dropout is
     * {@code hidden_dropout_prob}); relative position embeddings and decoder configurations are refused.
     *
     * @throws IllegalArgumentException if {@code model_type} is present and not "bert", {@code position_embedding_type}
     *                                  is not "absolute", {@code is_decoder} is true, a field has the wrong JSON
     *                                  type, or a value is invalid (the message names the field and value)
     */
    public static BertConfig fromJson(String json) {
        JsonObject o;
        try {
            JsonElement e = JsonParser.parseString(json);
            if (!e.isJsonObject()) {
                throw new IllegalArgumentException("config.json must be a JSON object, got " + abbreviate(json));
            }
            o = e.getAsJsonObject();
        } catch (JsonParseException e) {
            throw new IllegalArgumentException("config.json is not valid JSON: " + e.getMessage(), e);
        }
        if (o.has("model_type") && !"bert".equals(string(o, "model_type", "bert"))) {
            throw new IllegalArgumentException("model_type must be \"bert\", got " + o.get("model_type"));
        }
        // what the Fulgur blocks do not implement is refused rather than silently computed differently
        if (o.has("position_embedding_type")
                && !"absolute".equals(string(o, "position_embedding_type", "absolute"))) {
            throw new IllegalArgumentException("position_embedding_type must be \"absolute\" (learned positions), "
                    + "got " + o.get("position_embedding_type"));
        }
        if (o.has("is_decoder") && o.get("is_decoder").isJsonPrimitive() && o.get("is_decoder").getAsBoolean()) {
            throw new IllegalArgumentException("is_decoder must be false (BERT as a bidirectional encoder), got true");
        }
        int labels = 2;
        if (o.has("num_labels") && !o.get("num_labels").isJsonNull()) {
            labels = integer(o, "num_labels", 2);
        } else if (o.has("id2label") && o.get("id2label").isJsonObject()) {
            labels = o.getAsJsonObject("id2label").size();
        }
        return new BertConfig(integer(o, "vocab_size", 30522), integer(o, "hidden_size", 768),
                integer(o, "num_hidden_layers", 12), integer(o, "num_attention_heads", 12),
                integer(o, "intermediate_size", 3072), integer(o, "max_position_embeddings", 512),
                integer(o, "type_vocab_size", 2), real(o, "hidden_dropout_prob", 0.1f),
                real(o, "attention_probs_dropout_prob", 0.1f), real(o, "layer_norm_eps", 1e-12f),
                string(o, "hidden_act", "gelu"), real(o, "initializer_range", 0.02f), labels);
    }

    /**
     * This configuration as a Hugging Face config.json for {@code architecture} ({@link #MASKED_LM} or
     * {@link #SEQUENCE_CLASSIFICATION}); a classifier's labels are written as {@code id2label}/{@code label2id}
     * ({@code LABEL_i}), which is how transformers counts them.
     */
    public String toJson(String architecture) {
        JsonObject o = new JsonObject();
        JsonArray architectures = new JsonArray();
        architectures.add(architecture);
        o.add("architectures", architectures);
        o.addProperty("model_type", "bert");
        o.addProperty("vocab_size", vocabSize);
        o.addProperty("hidden_size", hiddenSize);
        o.addProperty("num_hidden_layers", numHiddenLayers);
        o.addProperty("num_attention_heads", numAttentionHeads);
        o.addProperty("intermediate_size", intermediateSize);
        o.addProperty("max_position_embeddings", maxPositionEmbeddings);
        o.addProperty("type_vocab_size", typeVocabSize);
        o.addProperty("hidden_dropout_prob", hiddenDropoutProb);
        o.addProperty("attention_probs_dropout_prob", attentionProbsDropoutProb);
        o.addProperty("layer_norm_eps", layerNormEps);
        o.addProperty("hidden_act", hiddenAct);
        o.addProperty("initializer_range", initializerRange);
        o.addProperty("position_embedding_type", "absolute");
        o.addProperty("pad_token_id", 0);
        o.addProperty("tie_word_embeddings", true);
        if (SEQUENCE_CLASSIFICATION.equals(architecture)) {
            JsonObject id2label = new JsonObject();
            JsonObject label2id = new JsonObject();
            for (int i = 0; i < numLabels; i++) {
                id2label.addProperty(Integer.toString(i), "LABEL_" + i);
                label2id.addProperty("LABEL_" + i, i);
            }
            o.add("id2label", id2label);
            o.add("label2id", label2id);
        }
        return new GsonBuilder().setPrettyPrinting().create().toJson(o);
    }

    /** Reads {@code config.json} in {@code dir}; a missing or invalid file fails naming the path. */
    public static BertConfig read(Path dir) throws IOException {
        Path file = dir.resolve("config.json");
        String json;
        try {
            json = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file + " not found: a Hugging Face BERT directory holds config.json and "
                    + "model.safetensors", e);
        }
        try {
            return fromJson(json);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code config.json} for {@code architecture} into {@code dir}, atomically. */
    public void write(Path dir, String architecture) throws IOException {
        AtomicFiles.write(dir.resolve("config.json"), (toJson(architecture) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static int integer(JsonObject o, String field, int fallback) {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            return fallback;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw new IllegalArgumentException(field + " must be an integer, got " + e); // Gson reads [3] as 3
        }
        try {
            double d = e.getAsDouble();
            if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(field + " must be an integer, got " + e);
            }
            return (int) d;
        } catch (UnsupportedOperationException | NumberFormatException | IllegalStateException ex) {
            throw new IllegalArgumentException(field + " must be an integer, got " + e);
        }
    }

    private static float real(JsonObject o, String field, float fallback) {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            return fallback;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw new IllegalArgumentException(field + " must be a number, got " + e);
        }
        try {
            return e.getAsFloat();
        } catch (UnsupportedOperationException | NumberFormatException | IllegalStateException ex) {
            throw new IllegalArgumentException(field + " must be a number, got " + e);
        }
    }

    private static String string(JsonObject o, String field, String fallback) {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            return fallback;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new IllegalArgumentException(field + " must be a string, got " + e);
        }
        return e.getAsString();
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 60) + "...";
    }
}
