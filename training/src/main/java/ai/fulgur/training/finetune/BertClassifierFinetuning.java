package ai.fulgur.training.finetune;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.Record;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.Batchifier;
import ai.fulgur.datasets.text.LabeledText;
import ai.fulgur.datasets.text.LabeledTextFile;
import ai.fulgur.datasets.text.TextClassificationDataset;
import ai.fulgur.datasets.tokenizer.WordPieceTokenizer;
import ai.fulgur.training.bert.BertCheckpoint;
import ai.fulgur.training.bert.BertConfig;
import ai.fulgur.training.bert.BertForSequenceClassification;
import ai.fulgur.training.bert.BertLayer;
import ai.fulgur.training.loop.TrainingLoop;
import ai.fulgur.training.loss.TokenCrossEntropyLoss;
import ai.fulgur.training.optim.ResumableAdamW;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Fine-tunes BERT for sequence classification on a CSV, TSV or JSONL file of (text, label): the file is split into a
 * training and a held-out part, the model starts from a checkpoint (a masked-LM one gets a new classification head)
 * or from a preset, optionally with the embeddings and the first layers frozen, and trains with AdamW under linear
 * warm-up and cosine decay. The result reports accuracy on the held-out part; the checkpoint is a Hugging Face
 * {@code BertForSequenceClassification} directory whose config.json names the labels ({@code id2label}).
 */
public final class BertClassifierFinetuning {

    /**
     * What to fine-tune.
     *
     * @param data           the (text, label) file
     * @param textColumn     the text column or JSON field
     * @param labelColumn    the label column or JSON field
     * @param heldOut        the fraction held out for accuracy
     * @param from           a BERT checkpoint directory, or null to start from {@code preset}
     * @param preset         tiny, mini or base (when {@code from} is null)
     * @param maxLength      tokens per example ([CLS] and [SEP] included)
     * @param steps          optimizer steps
     * @param batchSize      examples per step
     * @param learningRate   peak learning rate
     * @param warmupFraction share of the steps spent warming up
     * @param freezeLayers   -1: train everything; k ≥ 0: freeze the embeddings and the first k encoder layers
     * @param seed           split, initialisation and dropout seed
     * @param saveTo         checkpoint directory, or null
     */
    public record Config(Path data, String textColumn, String labelColumn, double heldOut, Path from, String preset,
            int maxLength, int steps, int batchSize, float learningRate, float warmupFraction, int freezeLayers,
            long seed, Path saveTo) {
        /** Checks what the parts below do not. */
        public Config {
            if (!(heldOut > 0 && heldOut < 1)) {
                throw new IllegalArgumentException("held-out fraction must be in (0, 1), got " + heldOut);
            }
            if (!(warmupFraction >= 0 && warmupFraction < 1)) {
                throw new IllegalArgumentException("warm-up fraction must be in [0, 1), got " + warmupFraction);
            }
            if (freezeLayers < -1) {
                throw new IllegalArgumentException("freezeLayers must be -1 (none) or >= 0, got " + freezeLayers);
            }
        }
    }

    /** What fine-tuning achieved. */
    public record Result(double heldOutAccuracy, int heldOutExamples, int trainExamples, List<String> labels,
            TrainingLoop.Result training, List<String> newlyInitialized) {
    }

    private BertClassifierFinetuning() {
    }

    /** Fine-tunes; {@code listener} (may be null) sees every step. */
    public static Result run(Config c, TrainingLoop.Listener listener, Device device) throws IOException {
        LabeledTextFile file = c.textColumn() == null ? LabeledTextFile.read(c.data())
                : LabeledTextFile.read(c.data(), c.textColumn(), c.labelColumn());
        LabeledTextFile.Split split = file.split(c.heldOut(), c.seed());
        if (split.train().isEmpty() || split.heldOut().isEmpty()) {
            throw new IllegalArgumentException(c.data() + " has " + file.examples().size() + " examples: too few to "
                    + "hold out " + c.heldOut() + " of them and still train");
        }
        List<String> labels = file.labelNames();
        WordPieceTokenizer tokenizer = c.from() != null && Files.isRegularFile(c.from().resolve("vocab.txt"))
                ? WordPieceTokenizer.fromVocabTxt(c.from().resolve("vocab.txt"), true)
                : WordPieceTokenizer.bertBaseUncased();
        BertConfig config = (c.from() != null ? BertConfig.read(c.from())
                : preset(c.preset()).withVocabSize(tokenizer.vocabSize())).withNumLabels(file.numClasses());
        if (config.vocabSize() < tokenizer.vocabSize()) {
            throw new IllegalArgumentException("the model's vocabulary (" + config.vocabSize() + ") is smaller than "
                    + "the tokenizer's (" + tokenizer.vocabSize() + ")");
        }
        if (c.maxLength() > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("max length " + c.maxLength() + " exceeds the model's "
                    + "max_position_embeddings " + config.maxPositionEmbeddings());
        }
        Engine.getEngine("Fulgur").setRandomSeed((int) c.seed());
        BertForSequenceClassification block = new BertForSequenceClassification(config);
        try (Model model = Model.newInstance("bert-classifier", device, "Fulgur")) {
            model.setBlock(block);
            BertCheckpoint.initialize(block, model.getNDManager(), DataType.FLOAT32);
            List<String> fresh = List.of();
            if (c.from() != null) {
                fresh = BertCheckpoint.load(c.from(), block, BertCheckpoint.Option.INITIALIZE_NEW_HEAD,
                        BertCheckpoint.Option.IGNORE_UNUSED).newlyInitialized();
            }
            freeze(block, c.freezeLayers());
            TextClassificationDataset train = TextClassificationDataset.builder().setExamples(split.train())
                    .setTokenizer(tokenizer).setMaxLength(c.maxLength()).setSampling(c.batchSize(), false).build();
            int warmup = Math.round(c.steps() * c.warmupFraction());
            Tracker cosine = Tracker.cosine().setBaseValue(c.learningRate()).optFinalValue(0f)
                    .setMaxUpdates(Math.max(1, c.steps() - warmup)).build();
            Tracker schedule = warmup == 0 ? cosine : Tracker.warmUp().optWarmUpBeginValue(0f)
                    .optWarmUpSteps(warmup).setMainTracker(cosine).build();
            TrainingLoop loop = new TrainingLoop(model, new TokenCrossEntropyLoss(), ResumableAdamW.builder()
                    .optLearningRateTracker(schedule).optWeightDecays(0.01f), new String[] {"bias", "gamma", "beta"},
                    new PermutedDataset(train, c.seed()), null,
                    new TrainingLoop.Options(c.steps(), c.batchSize(), 0, 0, 0, 1.0),
                    c.saveTo(), c.saveTo() == null ? null : dir -> {
                        BertCheckpoint.save(dir, block);
                        nameLabels(dir, labels);
                    }, listener, device);
            TrainingLoop.Result trained = loop.run();
            double accuracy = accuracy(model, block, split.heldOut(), tokenizer, c.maxLength(), c.batchSize());
            return new Result(accuracy, split.heldOut().size(), split.train().size(), labels, trained, fresh);
        }
    }

    private static BertConfig preset(String name) {
        return switch (name == null ? "tiny" : name) {
            case "tiny" -> BertConfig.tiny();
            case "mini" -> BertConfig.mini();
            case "base" -> BertConfig.base();
            default -> throw new IllegalArgumentException("unknown BERT preset '" + name + "'; expected tiny, mini or "
                    + "base");
        };
    }

    /** Freezes the embeddings and the first {@code layers} encoder layers (-1: nothing). */
    static void freeze(BertForSequenceClassification block, int layers) {
        if (layers < 0) {
            return;
        }
        List<BertLayer> all = block.getBert().getEncoder().getLayers();
        if (layers > all.size()) {
            throw new IllegalArgumentException("cannot freeze " + layers + " layers: the model has " + all.size());
        }
        block.getBert().getEmbeddings().freezeParameters(true);
        for (int l = 0; l < layers; l++) {
            all.get(l).freezeParameters(true);
        }
    }

    /** The fraction of {@code examples} whose arg-max class is their label. */
    static double accuracy(Model model, BertForSequenceClassification block, List<LabeledText> examples,
            WordPieceTokenizer tokenizer, int maxLength, int batchSize) throws IOException {
        TextClassificationDataset data = TextClassificationDataset.builder().setExamples(examples)
                .setTokenizer(tokenizer).setMaxLength(maxLength).setSampling(batchSize, false).build();
        long correct = 0;
        for (int first = 0; first < examples.size(); first += batchSize) {
            int n = Math.min(batchSize, examples.size() - first);
            try (NDManager scope = model.getNDManager().newSubManager()) {
                NDList[] inputs = new NDList[n];
                int[] labels = new int[n];
                for (int i = 0; i < n; i++) {
                    Record r = data.get(scope, first + i);
                    inputs[i] = r.getData();
                    labels[i] = r.getLabels().head().getInt();
                }
                NDArray logits = block.forward(new ParameterStore(scope, false), Batchifier.STACK.batchify(inputs),
                        false).head();
                int[] predicted = logits.argMax(1).toType(DataType.INT32, false).toIntArray();
                for (int i = 0; i < n; i++) {
                    correct += predicted[i] == labels[i] ? 1 : 0;
                }
            }
        }
        return (double) correct / examples.size();
    }

    /** Adds {@code id2label} and {@code label2id} to the checkpoint's config.json, as transformers writes them. */
    private static void nameLabels(Path dir, List<String> labels) throws IOException {
        Path configFile = dir.resolve("config.json");
        JsonObject json = JsonParser.parseString(Files.readString(configFile)).getAsJsonObject();
        JsonObject id2label = new JsonObject();
        JsonObject label2id = new JsonObject();
        for (int i = 0; i < labels.size(); i++) {
            id2label.addProperty(Integer.toString(i), labels.get(i));
            label2id.addProperty(labels.get(i), i);
        }
        json.add("id2label", id2label);
        json.add("label2id", label2id);
        ai.fulgur.training.checkpoint.AtomicFiles.write(configFile,
                new com.google.gson.GsonBuilder().setPrettyPrinting().create().toJson(json)
                        .getBytes(StandardCharsets.UTF_8));
    }
}
