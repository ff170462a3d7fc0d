package ai.fulgur.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.fulgur.datasets.tokenizer.Tokenizers;
import ai.fulgur.datasets.tokenizer.WordPieceTokenizer;
import ai.fulgur.training.bert.BertConfig;
import ai.fulgur.training.bert.BertPretraining;
import ai.fulgur.training.loop.TrainingLoop;
import ai.fulgur.training.precision.Precision;
import java.io.PrintStream;
import java.nio.file.Path;

/** {@code fulgur train bert}: masked-LM pre-training of BERT on text or WordPiece shards. */
final class TrainBert {
    private TrainBert() {
    }

    static String usage() {
        return """
                usage: fulgur train bert --data FILE|DIR [options]    BERT learns to fill in masked words
                  --data P          a text file, a directory of .txt files, or WordPiece shards ('fulgur prepare
                                    --tokenizer bert')
                  --tokenizer T     bert (BERT base uncased) or a directory with vocab.txt             [bert]
                  --preset NAME     tiny, mini or base                                                  [mini]
                  --max-length N    tokens per row, [CLS] and [SEP] included                            [128]
                  --steps N [500]  --batch N [16]  --lr X [1e-3]  --warmup N [steps/20]  --eval-every N [steps/10]
                  --save DIR        Hugging Face BertForMaskedLM checkpoint with vocab.txt and loss.svg
                  --seed N --device NAME
                  --precision P     fp32, bf16 or fp16 (F32 weights and optimizer state; fp16 adds dynamic loss
                                    scaling)                                          [bf16 on a GPU, fp32 on the CPU]
                """;
    }

    static int run(Args args, PrintStream out) throws Exception {
        String data = args.string("data", null);
        if (data == null) {
            throw new Args.UsageException("--data is required (a text file, a directory, or shards)");
        }
        String tokenizerSpec = args.string("tokenizer", "bert");
        String presetName = args.string("preset", "mini");
        int maxLength = args.integer("max-length", 128, 3);
        int steps = args.integer("steps", 500, 1);
        int batch = args.integer("batch", 16, 1);
        float lr = (float) args.number("lr", 1e-3, 0);
        int warmup = args.integer("warmup", steps / 20, 0);
        int evalEvery = args.integer("eval-every", Math.max(1, steps / 10), 0);
        String save = args.string("save", null);
        String device = args.string("device", null);
        Precision explicitPrecision = args.precision();
        int seed = args.integer("seed", 1, 0);
        args.finish();
        if (!(Tokenizers.byName(tokenizerSpec) instanceof WordPieceTokenizer)) {
            throw new Args.UsageException("BERT needs a WordPiece tokenizer (bert, or a directory with vocab.txt); '"
                    + tokenizerSpec + "' is not one");
        }
        BertConfig preset = switch (presetName) {
            case "tiny" -> BertConfig.tiny();
            case "mini" -> BertConfig.mini();
            case "base" -> BertConfig.base();
            default -> throw new Args.UsageException("unknown BERT preset '" + presetName
                    + "'; expected tiny, mini or base");
        };
        CorpusLoader corpus = CorpusLoader.load(data, tokenizerSpec, out);
        out.println(corpus.description());
        WordPieceTokenizer tokenizer = (WordPieceTokenizer) corpus.tokenizer();
        BertConfig config = preset.withVocabSize(tokenizer.vocabSize());
        Engine engine = Engine.getEngine("Fulgur");
        Device dev = ai.fulgur.autograd.djl.DeviceNames.parse(device, engine);
        Precision precision = explicitPrecision == null ? Precision.defaultFor(dev) : explicitPrecision;
        out.printf("BERT: %d layers, %d heads, hidden %d, vocabulary %d, rows of %d tokens, on %s, %s%n",
                config.numHiddenLayers(), config.numAttentionHeads(), config.hiddenSize(), config.vocabSize(),
                maxLength, dev, precision.label());
        TrainingLoop.Result r;
        try (ConsoleProgress progress = new ConsoleProgress(out)) {
            r = BertPretraining.train(config, tokenizer, corpus.train(), corpus.validation(),
                    new BertPretraining.Config(steps, batch, maxLength, lr, warmup, evalEvery, seed, precision),
                    save == null ? null : Path.of(save), progress, dev);
        }
        out.printf("masked-LM training loss %.4f -> %.4f; validation loss %.4f%n",
                r.curve().train().get(0).loss(), r.curve().train().get(r.curve().train().size() - 1).loss(),
                r.lastEvalLoss());
        if (save != null) {
            out.println("checkpoint (Hugging Face BertForMaskedLM + vocab.txt), loss curve: "
                    + Path.of(save).resolve("loss.svg").toAbsolutePath());
        }
        return 0;
    }
}
