package ai.fulgur.cli;

import ai.fulgur.training.examples.SpiralClassifier;
import java.io.PrintStream;
import java.nio.file.Path;

/** {@code fulgur train}: trains a model. Today: the spiral MLP, a plain DJL program on the Fulgur engine. */
final class TrainCommand implements Command {

    @Override
    public String summary() {
        return "train a model (default: an MLP on three spirals, DJL's EasyTrain on the Fulgur engine)";
    }

    @Override
    public String usage() {
        SpiralClassifier.Config d = SpiralClassifier.Config.defaults();
        return """
                usage: fulgur train [mlp] [options]
                  --engine NAME     DJL engine: Fulgur or PyTorch (if on the class path)   [%s]
                  --device NAME     cpu, gpu or gpu:N                                      [gpu if present]
                  --epochs N        passes over the data                                   [%d]
                  --points N        points per spiral arm                                  [%d]
                  --batch N         batch size                                             [%d]
                  --hidden N        hidden width                                           [%d]
                  --seed N          data and engine seed                                   [%d]
                  --save DIR        save the trained model (DJL .params) to DIR
                  --quiet           no progress bar
                """.formatted(d.engine(), d.epochs(), d.pointsPerClass(), d.batchSize(), d.hidden(), d.seed());
    }

    @Override
    public int run(Args args, PrintStream out, PrintStream err) throws Exception {
        if (args.help()) {
            out.print(usage());
            return 0;
        }
        String model = args.positional().isEmpty() ? "mlp" : args.positional().get(0);
        if (!model.equals("mlp")) {
            throw new Args.UsageException("unknown model '" + model + "', expected: mlp");
        }
        SpiralClassifier.Config d = SpiralClassifier.Config.defaults();
        String save = args.string("save", null);
        SpiralClassifier.Config c = new SpiralClassifier.Config(args.string("engine", d.engine()),
                args.string("device", null),
                args.integer("points", d.pointsPerClass(), 3), args.integer("epochs", d.epochs(), 1),
                args.integer("batch", d.batchSize(), 1), args.integer("hidden", d.hidden(), 1),
                args.integer("seed", d.seed(), 0), save == null ? null : Path.of(save), !args.flag("quiet"));
        args.finish();
        out.printf("training the spiral MLP on the %s engine (%s): %d epochs, %d points, batch %d, hidden %d%n",
                c.engine(), c.device() == null ? "default device" : c.device(), c.epochs(), 3 * c.pointsPerClass(), c.batchSize(), c.hidden());
        SpiralClassifier.Result r = SpiralClassifier.train(c);
        out.printf("done in %.1f s: train loss %.4f, accuracy %.4f; validation loss %.4f, accuracy %.4f%n",
                r.millis() / 1000.0, r.trainLoss(), r.trainAccuracy(), r.validationLoss(), r.validationAccuracy());
        if (c.saveTo() != null) {
            out.println("saved to " + c.saveTo().toAbsolutePath());
        }
        return 0;
    }
}
