package ai.fulgur.training.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.fulgur.training.checkpoint.CheckpointException;
import ai.fulgur.training.checkpoint.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * BERT checkpoints as Hugging Face model directories: {@code model.safetensors} plus {@code config.json}, each written
 * atomically, with the tensor names and shapes of transformers' {@code BertForMaskedLM} and
 * {@code BertForSequenceClassification}, so either side loads what the other saved.
 *
 * <p>The mapping (L = layer index):
 * <pre>
 *   bert.embeddings.{word,position,token_type}_embeddings.weight   BertEmbeddings parameters
 *   bert.embeddings.LayerNorm.{weight,bias}                        its LayerNorm gamma, beta
 *   bert.encoder.layer.L.attention.self.{query,key,value}.*        rows [0,C), [C,2C), [2C,3C) of the fused qkv Linear
 *   bert.encoder.layer.L.attention.output.dense.*                  attention out Linear
 *   bert.encoder.layer.L.attention.output.LayerNorm.*              attention_norm
 *   bert.encoder.layer.L.intermediate.dense.*                      intermediate
 *   bert.encoder.layer.L.output.dense.*, output.LayerNorm.*        output, output_norm
 *   cls.predictions.transform.dense.*, transform.LayerNorm.*       masked-LM transform
 *   cls.predictions.bias                                           masked-LM output bias (the decoder weight is the
 *                                                                  word embedding: tied, not written, as HF does)
 *   bert.pooler.dense.*, classifier.*                              sequence classification
 * </pre>
 * Loading also accepts a bare {@code BertModel} checkpoint (names without the {@code bert.} prefix) and ignores what
 * transformers itself ignores or ties: {@code bert.embeddings.position_ids}, {@code cls.predictions.decoder.weight}
 * and {@code cls.predictions.decoder.bias} (used as the output bias when {@code cls.predictions.bias} is absent).
 */
public final class BertCheckpoint {
    /** The weights file of a model directory. */
    public static final String WEIGHTS_FILE = "model.safetensors";

    private static final String PREFIX = "bert.";
    private static final Set<String> TIED_OR_BUFFERS = Set.of("bert.embeddings.position_ids",
            "cls.predictions.decoder.weight", "cls.predictions.decoder.bias");

    private BertCheckpoint() {}

    /** How {@link #load} treats tensors the checkpoint and the model do not share. */
    public enum Option {
        /**
         * Initialise the task head when the checkpoint lacks it (pooler and classifier, or the masked-LM head) and
         * ignore the other task's head in the checkpoint: fine-tuning a classifier from a pretrained masked-LM
         * checkpoint. Weights N(0, initializer_range²), biases 0, LayerNorm 1 and 0, as transformers initialises them.
         */
        INITIALIZE_NEW_HEAD,
        /** Ignore checkpoint tensors the model has no place for (reported as unused) instead of failing. */
        IGNORE_UNUSED
    }

    /**
     * What a load did.
     *
     * @param loaded           checkpoint tensors copied into the model
     * @param newlyInitialized model tensors (Hugging Face names) the checkpoint lacked and that were initialised
     * @param unused           checkpoint tensors that were not used (tied, buffers, another task's head, or ignored)
     */
    public record LoadReport(List<String> loaded, List<String> newlyInitialized, List<String> unused) {}

    /** Where one Hugging Face tensor lives: rows [part·n, (part+1)·n) of a parameter split into {@code parts}. */
    private record Slot(Parameter parameter, int part, int parts, boolean head, Init init) {
        Slot(Parameter parameter, boolean head, Init init) {
            this(parameter, 0, 1, head, init);
        }
    }

    /** How a new head tensor starts. */
    private enum Init { NORMAL, ZEROS, ONES }

    // -----------------------------------------------------------------------------------------------------------------
    // save

    /**
     * Writes {@code model} (initialised) as a Hugging Face directory: {@code dir/model.safetensors} and
     * {@code dir/config.json}, each atomically; the directory is created if needed.
     *
     * @param model a {@link BertForMaskedLM} or a {@link BertForSequenceClassification}
     */
    public static void save(Path dir, Block model) throws IOException {
        BertConfig config = configOf(model);
        Map<String, NDArray> tensors = new TreeMap<>(); // sorted names, as transformers writes them
        try (NDManager scratch = firstArray(model).getManager().newSubManager()) {
            for (Map.Entry<String, Slot> e : slots(model).entrySet()) {
                Slot s = e.getValue();
                NDArray a = s.parameter().getArray();
                if (s.parts() > 1) {
                    long rows = a.getShape().get(0) / s.parts();
                    a = a.get(new NDIndex("{}:{}", s.part() * rows, (s.part() + 1) * rows));
                    a.attach(scratch);
                }
                tensors.put(e.getKey(), a);
            }
            Files.createDirectories(dir);
            Safetensors.write(dir.resolve(WEIGHTS_FILE), tensors, Map.of("format", "pt"));
        }
        config.write(dir, architecture(model));
    }

    // -----------------------------------------------------------------------------------------------------------------
    // load

    /** Builds a masked-LM model from {@code dir}'s config.json and loads its weights (FLOAT32, on {@code manager}). */
    public static BertForMaskedLM loadMaskedLM(Path dir, NDManager manager) throws IOException {
        BertForMaskedLM model = new BertForMaskedLM(BertConfig.read(dir));
        initialize(model, manager, DataType.FLOAT32);
        load(dir, model);
        return model;
    }

    /**
     * Builds a classifier from {@code dir}'s config.json and loads its weights (FLOAT32, on {@code manager}). To
     * start one from a masked-LM checkpoint, build it with the wanted number of labels and call {@link #load} with
     * {@link Option#INITIALIZE_NEW_HEAD}.
     */
    public static BertForSequenceClassification loadSequenceClassification(Path dir, NDManager manager)
            throws IOException {
        BertForSequenceClassification model = new BertForSequenceClassification(BertConfig.read(dir));
        initialize(model, manager, DataType.FLOAT32);
        load(dir, model);
        return model;
    }

    /** Initialises {@code model}'s parameters for inputs of any (B, T): DJL needs a shape, (1, 1) ids will do. */
    public static void initialize(Block model, NDManager manager, DataType dataType) {
        model.initialize(manager, dataType, new Shape(1, 1));
    }

    /**
     * Loads {@code dir}'s weights into {@code model} (initialised), after checking that {@code dir}'s config.json
     * describes the same architecture sizes.
     *
     * @param model   a {@link BertForMaskedLM} or a {@link BertForSequenceClassification}
     * @param options how to treat a missing head and unused tensors; by default either is an error
     * @return the loaded, newly initialised and unused tensor names
     * @throws CheckpointException for a missing or corrupt file, a config that does not match the model, a missing
     *                             tensor, an unexpected one, or a shape mismatch; nothing is changed then
     */
    public static LoadReport load(Path dir, Block model, Option... options) throws IOException {
        Set<Option> opts = options.length == 0 ? EnumSet.noneOf(Option.class) : EnumSet.of(options[0], options);
        BertConfig config = configOf(model);
        checkSameArchitecture(dir, BertConfig.read(dir), config);
        Path file = dir.resolve(WEIGHTS_FILE);
        Map<String, Slot> slots = slots(model);
        try (NDManager scratch = firstArray(model).getManager().newSubManager()) {
            Map<String, NDArray> tensors = readWeights(dir, file, scratch);
            // a bare BertModel checkpoint names the backbone without "bert."
            boolean bare = tensors.keySet().stream().noneMatch(n -> n.startsWith(PREFIX))
                    && tensors.containsKey("embeddings.word_embeddings.weight");
            Map<String, NDArray> byName = new LinkedHashMap<>();
            tensors.forEach((n, a) -> byName.put(bare && isBackbone(PREFIX + n) ? PREFIX + n : n, a));
            if (!byName.containsKey("cls.predictions.bias") && byName.containsKey("cls.predictions.decoder.bias")
                    && slots.containsKey("cls.predictions.bias")) {
                byName.put("cls.predictions.bias", byName.get("cls.predictions.decoder.bias"));
                byName.remove("cls.predictions.decoder.bias");
            }

            List<String> missing = new ArrayList<>();
            List<String> newHead = new ArrayList<>();
            for (Map.Entry<String, Slot> e : slots.entrySet()) {
                if (!byName.containsKey(e.getKey())) {
                    if (e.getValue().head() && opts.contains(Option.INITIALIZE_NEW_HEAD)) {
                        newHead.add(e.getKey());
                    } else {
                        missing.add(e.getKey());
                    }
                }
            }
            List<String> unused = new ArrayList<>();
            List<String> unexpected = new ArrayList<>();
            for (String name : byName.keySet()) {
                if (slots.containsKey(name)) {
                    continue;
                }
                unused.add(name);
                boolean otherHead = !isBackbone(name) && opts.contains(Option.INITIALIZE_NEW_HEAD);
                if (!TIED_OR_BUFFERS.contains(name) && !otherHead && !opts.contains(Option.IGNORE_UNUSED)) {
                    unexpected.add(name);
                }
            }
            if (!missing.isEmpty() || !unexpected.isEmpty()) {
                throw new CheckpointException(file + " does not fit " + model.getClass().getSimpleName() + ": "
                        + (missing.isEmpty() ? "" : "missing tensors " + missing
                                + (missing.stream().allMatch(n -> slots.get(n).head())
                                        ? " (only the task head: load with Option.INITIALIZE_NEW_HEAD to "
                                                + "initialise it, e.g. to fine-tune from a masked-LM checkpoint)"
                                        : ""))
                        + (!missing.isEmpty() && !unexpected.isEmpty() ? "; " : "")
                        + (unexpected.isEmpty() ? "" : "unexpected tensors " + unexpected
                                + " (Option.IGNORE_UNUSED skips them)"));
            }

            // gather each parameter's value (q|k|v concatenated) and check every shape before changing anything
            Map<Parameter, NDArray[]> parts = new LinkedHashMap<>();
            List<String> loaded = new ArrayList<>();
            for (Map.Entry<String, Slot> e : slots.entrySet()) {
                NDArray a = byName.get(e.getKey());
                if (a == null) {
                    continue;
                }
                Slot s = e.getValue();
                Shape full = s.parameter().getArray().getShape();
                Shape expected = s.parts() == 1 ? full
                        : new Shape(full.get(0) / s.parts()).addAll(full.slice(1));
                if (!a.getShape().equals(expected)) {
                    throw new CheckpointException(file + ": tensor '" + e.getKey() + "' has shape " + a.getShape()
                            + ", expected " + expected + " for " + model.getClass().getSimpleName() + " with "
                            + dir.resolve("config.json") + "'s sizes");
                }
                if (!a.getDataType().isFloating()) {
                    throw new CheckpointException(file + ": tensor '" + e.getKey() + "' has dtype "
                            + a.getDataType() + ", expected a floating-point type");
                }
                parts.computeIfAbsent(s.parameter(), p -> new NDArray[s.parts()])[s.part()] = a;
                loaded.add(e.getKey());
            }
            for (Map.Entry<Parameter, NDArray[]> e : parts.entrySet()) {
                NDArray target = e.getKey().getArray();
                NDArray[] p = e.getValue();
                NDArray value = p.length == 1 ? p[0] : NDArrays.concat(new NDList(p), 0);
                value.toType(target.getDataType(), false).copyTo(target);
            }
            for (String name : newHead) {
                initializeNew(slots.get(name), config, scratch);
            }
            return new LoadReport(List.copyOf(loaded), List.copyOf(newHead), List.copyOf(unused));
        }
    }

    private static Map<String, NDArray> readWeights(Path dir, Path file, NDManager manager) throws IOException {
        try {
            return Safetensors.read(file, manager).tensors();
        } catch (NoSuchFileException e) {
            String sharded = Files.exists(dir.resolve(WEIGHTS_FILE + ".index.json"))
                    ? " (sharded checkpoints, model.safetensors.index.json, are not supported: save it unsharded)"
                    : " (a Hugging Face BERT directory holds config.json and model.safetensors)";
            throw new CheckpointException(file + " not found" + sharded, e);
        }
    }

    private static void initializeNew(Slot s, BertConfig config, NDManager manager) {
        NDArray target = s.parameter().getArray();
        NDArray value = switch (s.init()) {
            case NORMAL -> manager.randomNormal(0, config.initializerRange(), target.getShape(), DataType.FLOAT32);
            case ZEROS -> manager.zeros(target.getShape(), DataType.FLOAT32);
            case ONES -> manager.ones(target.getShape(), DataType.FLOAT32);
        };
        value.toType(target.getDataType(), false).copyTo(target);
    }

    private static void checkSameArchitecture(Path dir, BertConfig saved, BertConfig model) throws CheckpointException {
        String[] fields = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size", "max_position_embeddings", "type_vocab_size", "layer_norm_eps"};
        Object[] a = {saved.vocabSize(), saved.hiddenSize(), saved.numHiddenLayers(), saved.numAttentionHeads(),
            saved.intermediateSize(), saved.maxPositionEmbeddings(), saved.typeVocabSize(), saved.layerNormEps()};
        Object[] b = {model.vocabSize(), model.hiddenSize(), model.numHiddenLayers(), model.numAttentionHeads(),
            model.intermediateSize(), model.maxPositionEmbeddings(), model.typeVocabSize(), model.layerNormEps()};
        for (int i = 0; i < fields.length; i++) {
            if (!a[i].equals(b[i])) {
                throw new CheckpointException(dir.resolve("config.json") + " has " + fields[i] + " " + a[i]
                        + " but the model was built with " + b[i] + "; build it from BertConfig.read(dir)");
            }
        }
    }

    // -----------------------------------------------------------------------------------------------------------------
    // the name mapping

    /** Every Hugging Face tensor name of {@code model} and where it lives, backbone first. */
    private static Map<String, Slot> slots(Block model) {
        Map<String, Slot> slots = new LinkedHashMap<>();
        BertModel bert;
        if (model instanceof BertForMaskedLM mlm) {
            bert = mlm.getBert();
        } else if (model instanceof BertForSequenceClassification cls) {
            bert = cls.getBert();
        } else {
            throw new IllegalArgumentException("BertCheckpoint saves and loads BertForMaskedLM or "
                    + "BertForSequenceClassification, got " + model.getClass().getName());
        }
        BertEmbeddings emb = bert.getEmbeddings();
        slots.put("bert.embeddings.word_embeddings.weight", new Slot(emb.getWordEmbeddings(), false, Init.NORMAL));
        slots.put("bert.embeddings.position_embeddings.weight",
                new Slot(emb.getPositionEmbeddings(), false, Init.NORMAL));
        slots.put("bert.embeddings.token_type_embeddings.weight",
                new Slot(emb.getTokenTypeEmbeddings(), false, Init.NORMAL));
        layerNorm(slots, "bert.embeddings.LayerNorm", emb.getLayerNorm(), false);
        List<BertLayer> layers = bert.getEncoder().getLayers();
        for (int l = 0; l < layers.size(); l++) {
            String p = "bert.encoder.layer." + l + ".";
            BertLayer layer = layers.get(l);
            Linear[] projections = attentionProjections(layer);
            String[] qkv = {"query", "key", "value"};
            for (int i = 0; i < 3; i++) {
                slots.put(p + "attention.self." + qkv[i] + ".weight",
                        new Slot(weight(projections[0]), i, 3, false, Init.NORMAL));
                slots.put(p + "attention.self." + qkv[i] + ".bias",
                        new Slot(bias(projections[0]), i, 3, false, Init.ZEROS));
            }
            linear(slots, p + "attention.output.dense", projections[1], false);
            layerNorm(slots, p + "attention.output.LayerNorm", layer.getAttentionNorm(), false);
            linear(slots, p + "intermediate.dense", layer.getIntermediate(), false);
            linear(slots, p + "output.dense", layer.getOutput(), false);
            layerNorm(slots, p + "output.LayerNorm", layer.getOutputNorm(), false);
        }
        if (model instanceof BertForMaskedLM mlm) {
            linear(slots, "cls.predictions.transform.dense", mlm.getTransformDense(), true);
            layerNorm(slots, "cls.predictions.transform.LayerNorm", mlm.getTransformNorm(), true);
            slots.put("cls.predictions.bias", new Slot(mlm.getOutputBias(), true, Init.ZEROS));
        } else if (model instanceof BertForSequenceClassification cls) {
            linear(slots, "bert.pooler.dense", cls.getBert().getPooler(), true);
            linear(slots, "classifier", cls.getClassifier(), true);
        }
        return slots;
    }

    /** The attention's fused qkv and output Linears, its children in that order (created at initialisation). */
    private static Linear[] attentionProjections(BertLayer layer) {
        List<Block> children = layer.getAttention().getChildren().values();
        if (children.size() != 2) {
            throw new IllegalStateException("BERT layer attention has no projections yet: initialise the model "
                    + "(BertCheckpoint.initialize or trainer.initialize) before saving or loading");
        }
        return new Linear[] {(Linear) children.get(0), (Linear) children.get(1)};
    }

    private static void linear(Map<String, Slot> slots, String name, Linear linear, boolean head) {
        slots.put(name + ".weight", new Slot(weight(linear), head, Init.NORMAL));
        slots.put(name + ".bias", new Slot(bias(linear), head, Init.ZEROS));
    }

    private static void layerNorm(Map<String, Slot> slots, String name, LayerNorm norm, boolean head) {
        slots.put(name + ".weight", new Slot(norm.getParameters().get("gamma"), head, Init.ONES));
        slots.put(name + ".bias", new Slot(norm.getParameters().get("beta"), head, Init.ZEROS));
    }

    private static Parameter weight(Linear linear) {
        return linear.getParameters().get("weight");
    }

    private static Parameter bias(Linear linear) {
        return linear.getParameters().get("bias");
    }

    private static boolean isBackbone(String name) {
        return name.startsWith("bert.embeddings.") || name.startsWith("bert.encoder.");
    }

    private static BertConfig configOf(Block model) {
        if (model instanceof BertForMaskedLM mlm) {
            return mlm.getConfig();
        }
        if (model instanceof BertForSequenceClassification cls) {
            return cls.getConfig();
        }
        throw new IllegalArgumentException("BertCheckpoint saves and loads BertForMaskedLM or "
                + "BertForSequenceClassification, got " + model.getClass().getName());
    }

    private static String architecture(Block model) {
        return model instanceof BertForMaskedLM ? BertConfig.MASKED_LM : BertConfig.SEQUENCE_CLASSIFICATION;
    }

    private static NDArray firstArray(Block model) {
        configOf(model); // fails for a block that is not a BERT task model
        Parameter p = model.getParameters().valueAt(0); // the word embedding
        if (!p.isInitialized()) {
            throw new IllegalStateException(model.getClass().getSimpleName() + " is not initialised: call "
                    + "BertCheckpoint.initialize(model, manager, DataType.FLOAT32) or trainer.initialize first");
        }
        return p.getArray();
    }
}
