package ai.fulgur.training.gpt2;

import ai.fulgur.ops.activation.GeluForm;
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
import java.util.Locale;

/**
 * The hyper-parameters of a GPT-2 model, named and defaulted as in Hugging Face's {@code GPT2Config}, read from and
 * written to its {@code config.json} ({@code model_type} gpt2, {@code architectures} [GPT2LMHeadModel]).
 *
 * <p>Presets: {@link #tiny()} and {@link #small()} for tests and CPU demos, {@link #gpt2Small124m()} and
 * {@link #gpt2Medium355m()} with the sizes of OpenAI's GPT-2 (all with GPT-2's vocabulary of 50257 tokens).
 * Change a field with {@code config.toBuilder().vocabSize(509).build()}.
 *
 * @param nLayer             transformer layers L ({@code n_layer})
 * @param nHead              attention heads H ({@code n_head}), dividing nEmbd
 * @param nEmbd              embedding size C ({@code n_embd})
 * @param nPositions         the longest sequence, the block size ({@code n_positions})
 * @param vocabSize          vocabulary size V ({@code vocab_size})
 * @param nInner             MLP hidden size, or 0 for 4·C ({@code n_inner}, null in config.json)
 * @param residPdrop         dropout on the residual branches in training ({@code resid_pdrop})
 * @param embdPdrop          dropout on the embeddings in training ({@code embd_pdrop})
 * @param attnPdrop          dropout on the attention weights in training ({@code attn_pdrop})
 * @param layerNormEpsilon   epsilon of every layer norm ({@code layer_norm_epsilon})
 * @param activationFunction {@code gelu_new} or {@code gelu_pytorch_tanh} (tanh GELU, GPT-2's) or {@code gelu} (erf)
 * @param tieWordEmbeddings  whether the LM head is the token embedding ({@code tie_word_embeddings})
 * @param initializerRange   standard deviation of the initial weights ({@code initializer_range})
 * @param bosTokenId         beginning-of-text token ({@code bos_token_id})
 * @param eosTokenId         end-of-text token ({@code eos_token_id})
 */
public record Gpt2Config(int nLayer, int nHead, int nEmbd, int nPositions, int vocabSize, int nInner,
        float residPdrop, float embdPdrop, float attnPdrop, float layerNormEpsilon, String activationFunction,
        boolean tieWordEmbeddings, float initializerRange, int bosTokenId, int eosTokenId) {

    /** GPT-2's vocabulary: 50,000 merges, 256 bytes and {@code <|endoftext|>}. */
    public static final int GPT2_VOCAB_SIZE = 50257;
    /** {@code <|endoftext|>} in GPT-2's vocabulary. */
    public static final int GPT2_END_OF_TEXT = 50256;

    /** Validates every field; the message names the config.json field, its value and what is expected. */
    public Gpt2Config {
        positive("n_layer", nLayer);
        positive("n_head", nHead);
        positive("n_embd", nEmbd);
        positive("n_positions", nPositions);
        positive("vocab_size", vocabSize);
        if (nEmbd % nHead != 0) {
            throw new IllegalArgumentException("n_embd " + nEmbd + " is not divisible by n_head " + nHead
                    + " (the head size is n_embd / n_head)");
        }
        if (nInner < 0) {
            throw new IllegalArgumentException("n_inner must be positive, or 0 (null in config.json) for 4 * n_embd, "
                    + "got " + nInner);
        }
        probability("resid_pdrop", residPdrop);
        probability("embd_pdrop", embdPdrop);
        probability("attn_pdrop", attnPdrop);
        if (!(layerNormEpsilon > 0 && Float.isFinite(layerNormEpsilon))) {
            throw new IllegalArgumentException("layer_norm_epsilon must be positive and finite, got "
                    + layerNormEpsilon);
        }
        geluFormOf(activationFunction);
        if (!(initializerRange > 0 && Float.isFinite(initializerRange))) {
            throw new IllegalArgumentException("initializer_range must be positive and finite, got "
                    + initializerRange);
        }
        // token ids are not checked against vocab_size: transformers does not, and its test configs (ours too)
        // keep GPT-2's 50256 with a small vocabulary
        nonNegative("bos_token_id", bosTokenId);
        nonNegative("eos_token_id", eosTokenId);
    }

    // -----------------------------------------------------------------------------------------------------------------
    // presets

    /** 2 layers, 4 heads, C = 128, 256 positions: tests and CPU demos. */
    public static Gpt2Config tiny() {
        return builder().nLayer(2).nHead(4).nEmbd(128).nPositions(256).build();
    }

    /** 6 layers, 6 heads, C = 384, 256 positions (about 30M parameters, 19M of them the embedding). */
    public static Gpt2Config small() {
        return builder().nLayer(6).nHead(6).nEmbd(384).nPositions(256).build();
    }

    /** OpenAI's GPT-2 small: 12 layers, 12 heads, C = 768, 1024 positions, 124M parameters. */
    public static Gpt2Config gpt2Small124m() {
        return builder().nLayer(12).nHead(12).nEmbd(768).nPositions(1024).build();
    }

    /** OpenAI's GPT-2 medium: 24 layers, 16 heads, C = 1024, 1024 positions, 355M parameters. */
    public static Gpt2Config gpt2Medium355m() {
        return builder().nLayer(24).nHead(16).nEmbd(1024).nPositions(1024).build();
    }

    /** A preset by name: {@code tiny}, {@code small}, {@code 124m} or {@code 355m}. */
    public static Gpt2Config preset(String name) {
        return switch (name == null ? "" : name.toLowerCase(Locale.ROOT)) {
            case "tiny" -> tiny();
            case "small" -> small();
            case "124m", "gpt2" -> gpt2Small124m();
            case "355m", "gpt2-medium" -> gpt2Medium355m();
            default -> throw new IllegalArgumentException("unknown GPT-2 preset '" + name
                    + "'; expected tiny, small, 124m or 355m");
        };
    }

    // -----------------------------------------------------------------------------------------------------------------
    // derived values

    /** The head size D = C / H. */
    public int headDim() {
        return nEmbd / nHead;
    }

    /** The MLP hidden size F: {@code n_inner}, or 4·C when unset. */
    public int mlpHiddenSize() {
        return nInner > 0 ? nInner : 4 * nEmbd;
    }

    /** The GELU form {@code activation_function} names. */
    public GeluForm geluForm() {
        return geluFormOf(activationFunction);
    }

    private static GeluForm geluFormOf(String activation) {
        if (activation == null) {
            throw new IllegalArgumentException("activation_function must be set; expected gelu_new");
        }
        return switch (activation) {
            case "gelu_new", "gelu_pytorch_tanh" -> GeluForm.TANH;
            case "gelu" -> GeluForm.ERF;
            default -> throw new IllegalArgumentException("activation_function '" + activation + "' is not "
                    + "supported; expected gelu_new (GPT-2's tanh GELU), gelu_pytorch_tanh or gelu");
        };
    }

    // -----------------------------------------------------------------------------------------------------------------
    // config.json

    /**
     * Reads a Hugging Face {@code config.json}. Missing fields take {@code GPT2Config}'s defaults (those of the 124M
     * model), as transformers does.
     *
     * @throws CheckpointException for a missing or unreadable file, a model type other than gpt2, a field of the
     *                             wrong type, an invalid value, or an option Fulgur does not implement
     */
    public static Gpt2Config read(Path configJson) throws IOException {
        String text;
        try {
            text = Files.readString(configJson, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(configJson + " is missing: a GPT-2 checkpoint needs the config.json "
                    + "that describes its sizes", e);
        }
        try {
            return fromJson(text);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(configJson + ": " + e.getMessage(), e);
        }
    }

    /** Parses the text of a {@code config.json}; see {@link #read}. */
    public static Gpt2Config fromJson(String json) {
        JsonObject o;
        try {
            JsonElement parsed = JsonParser.parseString(json);
            if (!parsed.isJsonObject()) {
                throw new IllegalArgumentException("config.json must hold a JSON object, got " + parsed);
            }
            o = parsed.getAsJsonObject();
        } catch (JsonParseException e) {
            throw new IllegalArgumentException("config.json is not valid JSON: " + e.getMessage(), e);
        }
        String modelType = string(o, "model_type", "gpt2");
        if (!modelType.equals("gpt2")) {
            throw new IllegalArgumentException("model_type is '" + modelType + "', expected 'gpt2'");
        }
        unsupportedIf(!bool(o, "scale_attn_weights", true), "scale_attn_weights false");
        unsupportedIf(bool(o, "scale_attn_by_inverse_layer_idx", false), "scale_attn_by_inverse_layer_idx true");
        unsupportedIf(bool(o, "add_cross_attention", false), "add_cross_attention true");
        Builder b = builder()
                .nLayer(integer(o, "n_layer", 12))
                .nHead(integer(o, "n_head", 12))
                .nEmbd(integer(o, "n_embd", 768))
                .nPositions(integer(o, "n_positions", 1024))
                .vocabSize(integer(o, "vocab_size", GPT2_VOCAB_SIZE))
                .nInner(integer(o, "n_inner", 0))
                .residPdrop(number(o, "resid_pdrop", 0.1f))
                .embdPdrop(number(o, "embd_pdrop", 0.1f))
                .attnPdrop(number(o, "attn_pdrop", 0.1f))
                .layerNormEpsilon(number(o, "layer_norm_epsilon", 1e-5f))
                .activationFunction(string(o, "activation_function", "gelu_new"))
                .tieWordEmbeddings(bool(o, "tie_word_embeddings", true))
                .initializerRange(number(o, "initializer_range", 0.02f))
                .bosTokenId(integer(o, "bos_token_id", GPT2_END_OF_TEXT))
                .eosTokenId(integer(o, "eos_token_id", GPT2_END_OF_TEXT));
        return b.build();
    }

    /** This configuration as a Hugging Face {@code config.json} for {@code GPT2LMHeadModel}. */
    public String toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("activation_function", activationFunction);
        JsonArray architectures = new JsonArray();
        architectures.add("GPT2LMHeadModel");
        o.add("architectures", architectures);
        o.addProperty("attn_pdrop", attnPdrop);
        o.addProperty("bos_token_id", bosTokenId);
        o.addProperty("dtype", "float32");
        o.addProperty("embd_pdrop", embdPdrop);
        o.addProperty("eos_token_id", eosTokenId);
        o.addProperty("initializer_range", initializerRange);
        o.addProperty("layer_norm_epsilon", layerNormEpsilon);
        o.addProperty("model_type", "gpt2");
        o.addProperty("n_embd", nEmbd);
        o.addProperty("n_head", nHead);
        if (nInner > 0) {
            o.addProperty("n_inner", nInner);
        } else {
            o.add("n_inner", com.google.gson.JsonNull.INSTANCE);
        }
        o.addProperty("n_layer", nLayer);
        o.addProperty("n_positions", nPositions);
        o.addProperty("resid_pdrop", residPdrop);
        o.addProperty("scale_attn_weights", true);
        o.addProperty("tie_word_embeddings", tieWordEmbeddings);
        o.addProperty("use_cache", true);
        o.addProperty("vocab_size", vocabSize);
        return new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(o) + "\n";
    }

    /** Writes {@link #toJson()} to {@code configJson} atomically. */
    public void write(Path configJson) throws IOException {
        AtomicFiles.write(configJson, toJson().getBytes(StandardCharsets.UTF_8));
    }

    // -----------------------------------------------------------------------------------------------------------------
    // field readers and checks

    private static JsonElement field(JsonObject o, String name) {
        JsonElement e = o.get(name);
        return e == null || e.isJsonNull() ? null : e;
    }

    private static int integer(JsonObject o, String name, int fallback) {
        JsonElement e = field(o, name);
        if (e == null) {
            return fallback;
        }
        try {
            double d = e.getAsDouble();
            if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(name + " must be an integer, got " + e);
            }
            return (int) d;
        } catch (UnsupportedOperationException | NumberFormatException | IllegalStateException ex) {
            throw new IllegalArgumentException(name + " must be an integer, got " + e);
        }
    }

    private static float number(JsonObject o, String name, float fallback) {
        JsonElement e = field(o, name);
        if (e == null) {
            return fallback;
        }
        try {
            return e.getAsFloat();
        } catch (UnsupportedOperationException | NumberFormatException | IllegalStateException ex) {
            throw new IllegalArgumentException(name + " must be a number, got " + e);
        }
    }

    private static boolean bool(JsonObject o, String name, boolean fallback) {
        JsonElement e = field(o, name);
        if (e == null) {
            return fallback;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw new IllegalArgumentException(name + " must be true or false, got " + e);
        }
        return e.getAsBoolean();
    }

    private static String string(JsonObject o, String name, String fallback) {
        JsonElement e = field(o, name);
        if (e == null) {
            return fallback;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new IllegalArgumentException(name + " must be a string, got " + e);
        }
        return e.getAsString();
    }

    private static void unsupportedIf(boolean condition, String option) {
        if (condition) {
            throw new IllegalArgumentException(option + " is not supported by Fulgur's GPT-2");
        }
    }

    private static void positive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + value);
        }
    }

    private static void probability(String name, float p) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException(name + " must be in [0, 1), got " + p);
        }
    }

    private static void nonNegative(String name, int value) {
        if (value < 0) {
            throw new IllegalArgumentException(name + " must not be negative, got " + value);
        }
    }

    // -----------------------------------------------------------------------------------------------------------------
    // builder

    /** A builder with {@code GPT2Config}'s defaults (the 124M model, dropout 0.1). */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this configuration's values. */
    public Builder toBuilder() {
        return new Builder().nLayer(nLayer).nHead(nHead).nEmbd(nEmbd).nPositions(nPositions).vocabSize(vocabSize)
                .nInner(nInner).residPdrop(residPdrop).embdPdrop(embdPdrop).attnPdrop(attnPdrop)
                .layerNormEpsilon(layerNormEpsilon).activationFunction(activationFunction)
                .tieWordEmbeddings(tieWordEmbeddings).initializerRange(initializerRange).bosTokenId(bosTokenId)
                .eosTokenId(eosTokenId);
    }

    /** Sets every dropout (residual, embedding, attention) to {@code p}; 0 for inference and exact tests. */
    public Gpt2Config withDropout(float p) {
        return toBuilder().residPdrop(p).embdPdrop(p).attnPdrop(p).build();
    }

    /** The builder of {@link Gpt2Config}; {@link #build()} validates. */
    public static final class Builder {
        private int nLayer = 12;
        private int nHead = 12;
        private int nEmbd = 768;
        private int nPositions = 1024;
        private int vocabSize = GPT2_VOCAB_SIZE;
        private int nInner;
        private float residPdrop = 0.1f;
        private float embdPdrop = 0.1f;
        private float attnPdrop = 0.1f;
        private float layerNormEpsilon = 1e-5f;
        private String activationFunction = "gelu_new";
        private boolean tieWordEmbeddings = true;
        private float initializerRange = 0.02f;
        private Integer bosTokenId;
        private Integer eosTokenId;

        Builder() {}

        /** Transformer layers L. */
        public Builder nLayer(int v) {
            nLayer = v;
            return this;
        }

        /** Attention heads H. */
        public Builder nHead(int v) {
            nHead = v;
            return this;
        }

        /** Embedding size C. */
        public Builder nEmbd(int v) {
            nEmbd = v;
            return this;
        }

        /** The longest sequence. */
        public Builder nPositions(int v) {
            nPositions = v;
            return this;
        }

        /** Vocabulary size V. */
        public Builder vocabSize(int v) {
            vocabSize = v;
            return this;
        }

        /** MLP hidden size, 0 for 4·C. */
        public Builder nInner(int v) {
            nInner = v;
            return this;
        }

        /** Residual dropout. */
        public Builder residPdrop(float v) {
            residPdrop = v;
            return this;
        }

        /** Embedding dropout. */
        public Builder embdPdrop(float v) {
            embdPdrop = v;
            return this;
        }

        /** Attention dropout. */
        public Builder attnPdrop(float v) {
            attnPdrop = v;
            return this;
        }

        /** Layer norm epsilon. */
        public Builder layerNormEpsilon(float v) {
            layerNormEpsilon = v;
            return this;
        }

        /** {@code gelu_new}, {@code gelu_pytorch_tanh} or {@code gelu}. */
        public Builder activationFunction(String v) {
            activationFunction = v;
            return this;
        }

        /** Whether the LM head is the token embedding. */
        public Builder tieWordEmbeddings(boolean v) {
            tieWordEmbeddings = v;
            return this;
        }

        /** Standard deviation of the initial weights. */
        public Builder initializerRange(float v) {
            initializerRange = v;
            return this;
        }

        /** Beginning-of-text token; default GPT-2's 50256, or V − 1 for a smaller vocabulary. */
        public Builder bosTokenId(int v) {
            bosTokenId = v;
            return this;
        }

        /** End-of-text token; default GPT-2's 50256, or V − 1 for a smaller vocabulary. */
        public Builder eosTokenId(int v) {
            eosTokenId = v;
            return this;
        }

        /** The configuration; fails naming the first invalid field. */
        public Gpt2Config build() {
            int fallback = Math.min(GPT2_END_OF_TEXT, vocabSize - 1);
            return new Gpt2Config(nLayer, nHead, nEmbd, nPositions, vocabSize, nInner, residPdrop, embdPdrop,
                    attnPdrop, layerNormEpsilon, activationFunction, tieWordEmbeddings, initializerRange,
                    bosTokenId != null ? bosTokenId : fallback, eosTokenId != null ? eosTokenId : fallback);
        }
    }
}
