package ai.fulgur.training.gpt2;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.fulgur.training.checkpoint.CheckpointException;
import ai.fulgur.training.checkpoint.Safetensors;
import ai.fulgur.training.nn.AbstractMultiHeadAttention;
import ai.fulgur.training.nn.CausalTransformer;
import ai.fulgur.training.nn.TransformerBlock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * GPT-2 checkpoints as Hugging Face {@code GPT2LMHeadModel} directories: {@code model.safetensors} with transformers'
 * tensor names and layouts, and {@code config.json} ({@link Gpt2Config}). transformers loads what {@link #save}
 * writes with {@code GPT2LMHeadModel.from_pretrained(dir)}, and {@link #load} reads what transformers saves.
 *
 * <p>Names and shapes, with C = n_embd, F the MLP size, V the vocabulary, P = n_positions, l each layer:
 *
 * <pre>
 *   transformer.wte.weight                (V, C)     token_embedding
 *   transformer.wpe.weight                (P, C)     position_embedding
 *   transformer.h.l.ln_1.{weight,bias}    (C)        attention_norm gamma, beta
 *   transformer.h.l.attn.c_attn.weight    (C, 3C)    attention qkv weight, transposed
 *   transformer.h.l.attn.c_attn.bias      (3C)
 *   transformer.h.l.attn.c_proj.weight    (C, C)     attention out weight, transposed
 *   transformer.h.l.attn.c_proj.bias      (C)
 *   transformer.h.l.ln_2.{weight,bias}    (C)        mlp_norm gamma, beta
 *   transformer.h.l.mlp.c_fc.weight       (C, F)     mlp_fc weight, transposed
 *   transformer.h.l.mlp.c_fc.bias         (F)
 *   transformer.h.l.mlp.c_proj.weight     (F, C)     mlp_proj weight, transposed
 *   transformer.h.l.mlp.c_proj.bias       (C)
 *   transformer.ln_f.{weight,bias}        (C)        final_norm gamma, beta
 *   lm_head.weight                        (V, C)     only when the head is not tied
 * </pre>
 *
 * GPT-2's projections are {@code Conv1D} modules whose weight is (in, out), the transpose of a DJL {@code Linear}'s
 * (out, in); c_attn's 3C outputs are q, k, v, each C = H heads of D, which is the order of our fused qkv projection.
 * A tied head is not written, as transformers does not write it.
 *
 * <p>Loading also takes the older layout of OpenAI's checkpoints on the Hub: names without {@code transformer.}
 * and the attention mask buffers {@code h.l.attn.bias} / {@code h.l.attn.masked_bias}, which hold no weights and are
 * skipped. Everything else must match exactly: a missing, extra or misshapen tensor fails with its name.
 */
public final class Gpt2Checkpoint {
    /** The hyper-parameter file of a checkpoint directory. */
    public static final String CONFIG_FILE = "config.json";
    /** The weights file of a checkpoint directory. */
    public static final String WEIGHTS_FILE = "model.safetensors";

    private static final String PREFIX = "transformer.";
    private static final Pattern MASK_BUFFER = Pattern.compile("h\\.\\d+\\.attn\\.(bias|masked_bias)");

    private Gpt2Checkpoint() {}

    /** One tensor of the checkpoint: its Hugging Face name and shape, the parameter, and whether it is transposed. */
    private record Entry(String name, Shape shape, Parameter parameter, boolean transposed) {}

    // -----------------------------------------------------------------------------------------------------------------
    // save

    /**
     * Writes {@code model} to {@code dir} (created if needed): model.safetensors, then config.json, each atomically,
     * so a directory with a config.json always has the weights it describes (an older config.json there is removed
     * first). Parameters are written as F32.
     */
    public static void save(Gpt2Model model, Path dir) throws IOException {
        Files.createDirectories(dir);
        // over an older checkpoint, its config.json goes first: never new weights beside a config that is not theirs
        Files.deleteIfExists(dir.resolve(CONFIG_FILE));
        try (NDManager scope = model.getManager().newSubManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            for (Entry e : entries(model.getBlock(), model.getConfig())) {
                NDArray a = e.parameter().getArray();
                float[] values = a.toType(DataType.FLOAT32, false).toFloatArray();
                if (e.transposed()) {
                    values = transpose(values, a.getShape().get(0), a.getShape().get(1));
                }
                tensors.put(e.name(), scope.create(values, e.shape()));
            }
            Safetensors.write(dir.resolve(WEIGHTS_FILE), tensors, Map.of("format", "pt"));
        }
        model.getConfig().write(dir.resolve(CONFIG_FILE));
    }

    // -----------------------------------------------------------------------------------------------------------------
    // load

    /**
     * Reads a GPT-2 directory into a new model on {@code device} and engine {@code engineName}.
     *
     * @throws CheckpointException for a missing directory or file, an unreadable or corrupt file, an invalid
     *                             config, or weights that do not fit the config (missing, extra, or misshapen
     *                             tensors, named with the expected and found shapes)
     */
    public static Gpt2Model load(Path dir, Device device, String engineName) throws IOException {
        return load(dir, device, engineName, DataType.FLOAT32);
    }

    /** As {@link #load(Path, Device, String)} with parameters of {@code dtype} (the file's values rounded to it). */
    public static Gpt2Model load(Path dir, Device device, String engineName, DataType dtype) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new CheckpointException("no GPT-2 checkpoint directory at " + dir.toAbsolutePath()
                    + " (expected a directory holding " + CONFIG_FILE + " and " + WEIGHTS_FILE + ")");
        }
        Gpt2Config config = Gpt2Config.read(dir.resolve(CONFIG_FILE));
        Path weights = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(weights)) {
            String hint = Files.exists(dir.resolve("model.safetensors.index.json"))
                    ? "; it is sharded (model.safetensors.index.json), which Fulgur does not read: save it with a "
                            + "larger max_shard_size"
                    : Files.exists(dir.resolve("pytorch_model.bin"))
                            ? "; it has pytorch_model.bin only: re-save it with save_pretrained(safe_serialization="
                                    + "True)"
                            : "";
            throw new CheckpointException(weights + " is missing" + hint);
        }
        Gpt2Model model = Gpt2Model.allocate(config, device, engineName, dtype);
        try {
            loadWeights(weights, model.getBlock(), config);
            return model;
        } catch (IOException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** Reads {@code weights} into the parameters of an initialized GPT-2 block built from {@code config}. */
    static void loadWeights(Path weights, CausalTransformer block, Gpt2Config config) throws IOException {
        List<Entry> entries = entries(block, config);
        try (NDManager scope = block.getTokenEmbedding().getArray().getManager().newSubManager()) {
            Map<String, NDArray> found = Safetensors.read(weights, scope).tensors();
            String prefix = found.containsKey(PREFIX + "wte.weight") || !found.containsKey("wte.weight") ? PREFIX
                    : "";
            Set<String> expected = new TreeSet<>();
            entries.forEach(e -> expected.add(fileName(e.name(), prefix)));
            List<String> missing = new ArrayList<>();
            for (String name : expected) {
                if (!found.containsKey(name)) {
                    missing.add(name);
                }
            }
            List<String> extra = new ArrayList<>();
            for (String name : found.keySet()) {
                if (!expected.contains(name) && !ignorable(name, prefix, config)) {
                    extra.add(name);
                }
            }
            if (!missing.isEmpty() || !extra.isEmpty()) {
                throw new CheckpointException(weights + " does not hold the tensors of the GPT-2 its " + CONFIG_FILE
                        + " describes (n_layer " + config.nLayer() + ", tie_word_embeddings "
                        + config.tieWordEmbeddings() + "): " + (missing.isEmpty() ? "" : "missing " + list(missing))
                        + (missing.isEmpty() || extra.isEmpty() ? "" : "; ") + (extra.isEmpty() ? ""
                                : "unexpected " + list(extra)));
            }
            for (Entry e : entries) {
                String name = fileName(e.name(), prefix);
                NDArray src = found.get(name);
                if (!src.getShape().equals(e.shape())) {
                    throw new CheckpointException(weights + ": tensor '" + name + "' has shape " + src.getShape()
                            + " but " + CONFIG_FILE + " (n_embd " + config.nEmbd() + ", n_head " + config.nHead()
                            + ", vocab_size " + config.vocabSize() + ", n_positions " + config.nPositions()
                            + ", MLP size " + config.mlpHiddenSize() + ") needs " + e.shape());
                }
                if (!src.getDataType().isFloating()) {
                    throw new CheckpointException(weights + ": tensor '" + name + "' has dtype "
                            + src.getDataType() + "; expected a floating-point type (F32, F16, BF16 or F64)");
                }
                float[] values = src.toType(DataType.FLOAT32, false).toFloatArray();
                if (e.transposed()) {
                    values = transpose(values, src.getShape().get(0), src.getShape().get(1));
                }
                e.parameter().getArray().set(values);
            }
        }
    }

    /** The name in the file: without {@code transformer.} for the old layout; lm_head never has it. */
    private static String fileName(String name, String prefix) {
        return name.startsWith(PREFIX) ? prefix + name.substring(PREFIX.length()) : name;
    }

    /** Tensors that hold no weights (old attention mask buffers) or repeat the tied embedding. */
    private static boolean ignorable(String name, String prefix, Gpt2Config config) {
        if (name.startsWith(prefix) && MASK_BUFFER.matcher(name.substring(prefix.length())).matches()) {
            return true;
        }
        return name.equals("lm_head.weight") && config.tieWordEmbeddings();
    }

    private static String list(List<String> names) {
        int shown = Math.min(names.size(), 8);
        return names.subList(0, shown) + (names.size() > shown ? " and " + (names.size() - shown) + " more" : "");
    }

    // -----------------------------------------------------------------------------------------------------------------
    // the name map

    /** The Hugging Face names and shapes of {@code config}'s GPT2LMHeadModel, in the order they are written. */
    public static Map<String, Shape> tensorShapes(Gpt2Config config) {
        long c = config.nEmbd();
        long f = config.mlpHiddenSize();
        Map<String, Shape> shapes = new LinkedHashMap<>();
        shapes.put(PREFIX + "wte.weight", new Shape(config.vocabSize(), c));
        shapes.put(PREFIX + "wpe.weight", new Shape(config.nPositions(), c));
        for (int l = 0; l < config.nLayer(); l++) {
            String h = PREFIX + "h." + l + ".";
            shapes.put(h + "ln_1.weight", new Shape(c));
            shapes.put(h + "ln_1.bias", new Shape(c));
            shapes.put(h + "attn.c_attn.weight", new Shape(c, 3 * c));
            shapes.put(h + "attn.c_attn.bias", new Shape(3 * c));
            shapes.put(h + "attn.c_proj.weight", new Shape(c, c));
            shapes.put(h + "attn.c_proj.bias", new Shape(c));
            shapes.put(h + "ln_2.weight", new Shape(c));
            shapes.put(h + "ln_2.bias", new Shape(c));
            shapes.put(h + "mlp.c_fc.weight", new Shape(c, f));
            shapes.put(h + "mlp.c_fc.bias", new Shape(f));
            shapes.put(h + "mlp.c_proj.weight", new Shape(f, c));
            shapes.put(h + "mlp.c_proj.bias", new Shape(c));
        }
        shapes.put(PREFIX + "ln_f.weight", new Shape(c));
        shapes.put(PREFIX + "ln_f.bias", new Shape(c));
        if (!config.tieWordEmbeddings()) {
            shapes.put("lm_head.weight", new Shape(config.vocabSize(), c));
        }
        return shapes;
    }

    /** Every checkpoint tensor of an initialized GPT-2 block, with the parameter it maps to. */
    private static List<Entry> entries(CausalTransformer block, Gpt2Config config) {
        if (block.isTiedHead() != config.tieWordEmbeddings() || block.getLayers().size() != config.nLayer()) {
            throw new IllegalArgumentException("block (" + block.getLayers().size() + " layers, tied head "
                    + block.isTiedHead() + ") was not built from this config (n_layer " + config.nLayer()
                    + ", tie_word_embeddings " + config.tieWordEmbeddings() + ")");
        }
        Map<String, Shape> shapes = tensorShapes(config);
        List<Entry> entries = new ArrayList<>();
        Adder add = (name, p, transposed) -> entries.add(new Entry(name, shapes.get(name), p, transposed));
        add.put(PREFIX + "wte.weight", block.getTokenEmbedding(), false);
        add.put(PREFIX + "wpe.weight", block.getPositionEmbedding(), false);
        for (int l = 0; l < config.nLayer(); l++) {
            String h = PREFIX + "h." + l + ".";
            TransformerBlock layer = block.getLayers().get(l);
            AbstractMultiHeadAttention attention = layer.getAttention();
            add.put(h + "ln_1.weight", param(layer.getAttentionNorm(), "gamma"), false);
            add.put(h + "ln_1.bias", param(layer.getAttentionNorm(), "beta"), false);
            add.put(h + "attn.c_attn.weight", param(attention.getQkvProjection(), "weight"), true);
            add.put(h + "attn.c_attn.bias", param(attention.getQkvProjection(), "bias"), false);
            add.put(h + "attn.c_proj.weight", param(attention.getOutputProjection(), "weight"), true);
            add.put(h + "attn.c_proj.bias", param(attention.getOutputProjection(), "bias"), false);
            add.put(h + "ln_2.weight", param(layer.getMlpNorm(), "gamma"), false);
            add.put(h + "ln_2.bias", param(layer.getMlpNorm(), "beta"), false);
            add.put(h + "mlp.c_fc.weight", param(layer.getMlpFc(), "weight"), true);
            add.put(h + "mlp.c_fc.bias", param(layer.getMlpFc(), "bias"), false);
            add.put(h + "mlp.c_proj.weight", param(layer.getMlpProj(), "weight"), true);
            add.put(h + "mlp.c_proj.bias", param(layer.getMlpProj(), "bias"), false);
        }
        add.put(PREFIX + "ln_f.weight", param(block.getFinalNorm(), "gamma"), false);
        add.put(PREFIX + "ln_f.bias", param(block.getFinalNorm(), "beta"), false);
        if (!config.tieWordEmbeddings()) {
            add.put("lm_head.weight", param(block.getLmHead(), "weight"), false);
        }
        for (Entry e : entries) {
            NDArray a = e.parameter().getArray();
            Shape ours = e.transposed() ? new Shape(e.shape().get(1), e.shape().get(0)) : e.shape();
            if (!a.getShape().equals(ours)) {
                throw new IllegalStateException("parameter for " + e.name() + " is " + a.getShape() + ", expected "
                        + ours + " from the config");
            }
        }
        return entries;
    }

    @FunctionalInterface
    private interface Adder {
        void put(String name, Parameter p, boolean transposed);
    }

    private static Parameter param(ai.djl.nn.Block block, String name) {
        if (block == null) {
            throw new IllegalStateException("the GPT-2 block is not initialized (its attention projections are "
                    + "created from the first input shape)");
        }
        Parameter p = block.getDirectParameters().get(name);
        if (p == null) {
            throw new IllegalStateException(block.getClass().getSimpleName() + " has no parameter '" + name + "'");
        }
        return p;
    }

    /** Row-major (rows, cols) → (cols, rows). */
    private static float[] transpose(float[] v, long rows, long cols) {
        int r = Math.toIntExact(rows);
        int c = Math.toIntExact(cols);
        float[] t = new float[v.length];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < c; j++) {
                t[j * r + i] = v[i * c + j];
            }
        }
        return t;
    }
}
