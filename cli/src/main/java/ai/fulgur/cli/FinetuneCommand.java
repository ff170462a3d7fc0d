package ai.fulgur.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.fulgur.training.finetune.BertClassifierFinetuning;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * {@code fulgur finetune bert|gpt2}: BERT sequence classification from a (text, label) file, reporting held-out
 * accuracy; GPT-2 causal-LM fine-tuning of a checkpoint on new text ({@code train gpt2 --init DIR}).
 */
final class FinetuneCommand implements Command {

    @Override
    public String summary() {
        return "fine-tune BERT for text classification, or GPT-2 on new text";
    }

    @Override
    public String usage() {
        return """
                usage: fulgur finetune bert --data FILE [options]   classify texts; held-out accuracy is reported
                  --data FILE       CSV (header row), TSV or JSONL of text and label                  (required)
                  --text-column C   [text]        --label-column C   [label]
                  --from DIR        a BERT checkpoint (masked-LM ones get a new classification head)
                  --preset NAME     tiny, mini or base, when there is no --from                       [tiny]
                  --max-length N    tokens per text, [CLS] and [SEP] included                         [128]
                  --steps N         optimizer steps                                                   [300]
                  --batch N         texts per step                                                    [16]
                  --lr X            peak learning rate        [5e-5 with --from, 1e-3 without]
                  --warmup X        share of the steps spent warming up (then cosine to 0)            [0.1]
                  --freeze N        freeze the embeddings and the first N encoder layers              [none]
                  --held-out X      share of the file held out for accuracy                           [0.1]
                  --save DIR        write the classifier (Hugging Face BertForSequenceClassification)
                  --seed N --device NAME
                usage: fulgur finetune gpt2 --from DIR --data FILE [train gpt2 options]
                                    continues a GPT-2 checkpoint on new text with a fresh optimizer and schedule
                """;
    }

    @Override
    public int run(Args args, PrintStream out, PrintStream err) throws Exception {
        if (args.help()) {
            out.print(usage());
            return 0;
        }
        String model = args.positional().isEmpty() ? "" : args.positional().get(0);
        return switch (model) {
            case "bert" -> bert(args, out);
            case "gpt2" -> TrainGpt2.run(args, out, true);
            default -> throw new Args.UsageException("fine-tune which model? expected: bert or gpt2, got '" + model
                    + "'");
        };
    }

    private static int bert(Args args, PrintStream out) throws Exception {
        String data = args.string("data", null);
        if (data == null) {
            throw new Args.UsageException("--data FILE is required");
        }
        String from = args.string("from", null);
        String freeze = args.string("freeze", null);
        String device = args.string("device", null);
        BertClassifierFinetuning.Config c;
        try {
            c = new BertClassifierFinetuning.Config(Path.of(data), args.string("text-column", "text"),
                    args.string("label-column", "label"), args.number("held-out", 0.1, 0),
                    from == null ? null : Path.of(from), args.string("preset", "tiny"),
                    args.integer("max-length", 128, 3), args.integer("steps", 300, 1), args.integer("batch", 16, 1),
                    (float) args.number("lr", from == null ? 1e-3 : 5e-5, 0), (float) args.number("warmup", 0.1, 0),
                    freeze == null ? -1 : Integer.parseInt(freeze), args.integer("seed", 1, 0),
                    args.string("save", null) == null ? null : Path.of(args.string("save", null)));
        } catch (NumberFormatException e) {
            throw new Args.UsageException("--freeze expects a number of layers, got '" + freeze + "'");
        } catch (IllegalArgumentException e) {
            throw new Args.UsageException(e.getMessage());
        }
        args.finish();
        Engine engine = Engine.getEngine("Fulgur");
        Device dev = ai.fulgur.autograd.djl.DeviceNames.parse(device, engine);
        BertClassifierFinetuning.Result r;
        try (ConsoleProgress progress = new ConsoleProgress(out)) {
            r = BertClassifierFinetuning.run(c, progress, dev);
        }
        if (!r.newlyInitialized().isEmpty()) {
            out.println("newly initialised (not in the checkpoint): " + r.newlyInitialized());
        }
        out.printf("held-out accuracy %.1f%% on %d texts (%d trained on; labels %s)%n", 100 * r.heldOutAccuracy(),
                r.heldOutExamples(), r.trainExamples(), r.labels());
        if (c.saveTo() != null) {
            out.println("classifier: " + c.saveTo().toAbsolutePath());
        }
        return 0;
    }
}
