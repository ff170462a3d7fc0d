package ai.fulgur.cli;

import ai.fulgur.training.examples.AdditionTask;
import ai.fulgur.training.examples.SpiralClassifier;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * {@code fulgur train [addition|mlp]}: trains a model. The default, {@code addition}, needs no data: a small causal
 * transformer learns multi-digit addition and is scored by exact match on held-out problems.
 */
final class TrainCommand implements Command {

    @Override
    public String summary() {
        return "train a model (default: a transformer learns 3-digit addition, no data needed)";
    }

    @Override
    public String usage() {
        AdditionTask.Config d = AdditionTask.Config.defaults();
        SpiralClassifier.Config s = SpiralClassifier.Config.defaults();
        return """
                usage: fulgur train [addition] [options]     a causal transformer learns d-digit addition
                  --digits N        operand digits                                         [%d]
                  --steps N         optimizer steps                                        [%d]
                  --batch N         problems per step                                      [%d]
                  --layers N        transformer layers                                     [%d]
                  --heads N         attention heads                                        [%d]
                  --embd N          embedding size                                         [%d]
                  --lr X            peak learning rate (warm-up, then cosine)              [%s]
                  --eval N          held-out problems scored by exact match                [%d]
                  --engine NAME     DJL engine: Fulgur or PyTorch (if on the class path)   [%s]
                  --device NAME     cpu, gpu or gpu:N                                      [engine default]
                  --seed N          data, initialisation and dropout seed                  [%d]
                  --save DIR        write a checkpoint (weights, training state, loss.svg) to DIR
                  --quiet           no progress lines
                usage: fulgur train mlp [options]           an MLP learns to separate three spirals
                  --epochs N --points N --batch N --hidden N --seed N --engine NAME --device NAME --save DIR
                                    (defaults %d, %d, %d, %d, %d)
                """.formatted(d.digits(), d.steps(), d.batchSize(), d.layers(), d.heads(), d.embedding(), d.lr(),
                d.evalCount(), d.engine(), d.seed(), s.epochs(), s.pointsPerClass(), s.batchSize(), s.hidden(),
                s.seed()) + TrainGpt2.usage() + TrainBert.usage();
    }

    @Override
    public int run(Args args, PrintStream out, PrintStream err) throws Exception {
        if (args.help()) {
            out.print(usage());
            return 0;
        }
        String model = args.positional().isEmpty() ? "addition" : args.positional().get(0);
        return switch (model) {
            case "addition" -> addition(args, out);
            case "mlp" -> mlp(args, out);
            case "gpt2" -> TrainGpt2.run(args, out);
            case "bert" -> TrainBert.run(args, out);
            default -> throw new Args.UsageException("unknown model '" + model + "', expected: addition, gpt2, bert, "
                    + "mlp");
        };
    }

    private static int addition(Args args, PrintStream out) {
        AdditionTask.Config d = AdditionTask.Config.defaults();
        String save = args.string("save", null);
        AdditionTask.Config c = new AdditionTask.Config(args.string("engine", d.engine()), args.string("device", null),
                args.integer("digits", d.digits(), 1), args.integer("steps", d.steps(), 1),
                args.integer("batch", d.batchSize(), 1), args.integer("layers", d.layers(), 1),
                args.integer("heads", d.heads(), 1), args.integer("embd", d.embedding(), 1),
                (float) args.number("lr", d.lr(), 0), args.integer("seed", d.seed(), 0),
                args.integer("eval", d.evalCount(), 1), save == null ? null : Path.of(save));
        if (c.digits() > 9) {
            throw new Args.UsageException("--digits must be <= 9, got " + c.digits());
        }
        if (c.embedding() % c.heads() != 0) {
            throw new Args.UsageException("--embd " + c.embedding() + " must be a multiple of --heads " + c.heads());
        }
        boolean quiet = args.flag("quiet");
        args.finish();
        out.printf("training a %d-layer transformer (embedding %d, %d heads) on %d-digit addition: %d steps of %d "
                + "problems, %s engine%n", c.layers(), c.embedding(), c.heads(), c.digits(), c.steps(), c.batchSize(),
                c.engine());
        AdditionTask.Result r;
        try (ConsoleProgress progress = new ConsoleProgress(out)) {
            r = AdditionTask.run(c, quiet ? null : progress);
        }
        out.println("samples from the held-out problems (the answer is written backwards, then $):");
        r.samples().forEach(s -> out.println("  " + s));
        out.printf("exact match on %d held-out problems: %.1f%%  (trained in %.1f s)%n", r.evaluated(),
                100 * r.exactMatch(), r.millis() / 1000.0);
        if (c.saveTo() != null) {
            out.println("checkpoint and loss curve: " + c.saveTo().toAbsolutePath());
        }
        return 0;
    }

    private static int mlp(Args args, PrintStream out) throws Exception {
        SpiralClassifier.Config d = SpiralClassifier.Config.defaults();
        String save = args.string("save", null);
        SpiralClassifier.Config c = new SpiralClassifier.Config(args.string("engine", d.engine()),
                args.string("device", null),
                args.integer("points", d.pointsPerClass(), 3), args.integer("epochs", d.epochs(), 1),
                args.integer("batch", d.batchSize(), 1), args.integer("hidden", d.hidden(), 1),
                args.integer("seed", d.seed(), 0), save == null ? null : Path.of(save), !args.flag("quiet"));
        args.finish();
        out.printf("training the spiral MLP on the %s engine (%s): %d epochs, %d points, batch %d, hidden %d%n",
                c.engine(), c.device() == null ? "default device" : c.device(), c.epochs(), 3 * c.pointsPerClass(),
                c.batchSize(), c.hidden());
        SpiralClassifier.Result r = SpiralClassifier.train(c);
        out.printf("done in %.1f s: train loss %.4f, accuracy %.4f; validation loss %.4f, accuracy %.4f%n",
                r.millis() / 1000.0, r.trainLoss(), r.trainAccuracy(), r.validationLoss(), r.validationAccuracy());
        if (c.saveTo() != null) {
            out.println("saved to " + c.saveTo().toAbsolutePath());
        }
        return 0;
    }
}
