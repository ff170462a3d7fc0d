package ai.fulgur.cli;

import ai.fulgur.datasets.progress.ProgressBar;
import ai.fulgur.training.loop.TrainingLoop;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Shows a training run as a progress bar (step, smoothed loss, in fp16 the loss scale and skipped steps, tokens/s, ETA; one redrawn line on a terminal,
 * periodic lines otherwise) and prints every evaluation and checkpoint on its own line.
 */
final class ConsoleProgress implements TrainingLoop.Listener, AutoCloseable {
    private final PrintStream out;
    private ProgressBar bar;
    private double smoothed = Double.NaN;
    private int firstStep = -1; // a resumed run starts past 0
    private double lastEval = Double.NaN;
    private double lossScale = Double.NaN; // fp16 only
    private long skippedSteps;

    ConsoleProgress(PrintStream out) {
        this.out = out;
    }

    @Override
    public void onStep(int step, int steps, double loss, long tokens, double seconds) {
        if (bar == null) {
            firstStep = step - 1;
            bar = ProgressBar.builder("train").setTotal(steps).optInitial(firstStep).optUnit("steps")
                    .optOutput(out).build();
        }
        smoothed = Double.isNaN(smoothed) ? loss : 0.9 * smoothed + 0.1 * loss;
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("loss", String.format("%.4f", smoothed));
        if (!Double.isNaN(lastEval)) {
            fields.put("eval", String.format("%.4f", lastEval));
        }
        if (!Double.isNaN(lossScale)) {
            fields.put("scale", String.format("%.0f", lossScale));
            fields.put("skipped", skippedSteps);
        }
        fields.put("tok/s", String.format("%,.0f", tokens / Math.max(seconds, 1e-9)));
        bar.update(step, fields);
        if (step == steps) {
            close();
        }
    }

    @Override
    public void onCudaGraph(String message) {
        out.println("cuda graph: " + message);
    }

    @Override
    public void onLossScale(int step, double scale, boolean skipped, long skippedSteps) {
        // called before onStep of the same step, so the bar shows this step's scale
        this.lossScale = scale;
        this.skippedSteps = skippedSteps;
    }

    @Override
    public void onEval(int step, double loss) {
        lastEval = loss;
        // a log line of its own; on a terminal it first ends the bar's line, which redraws below it
        out.printf("%sstep %d: eval loss %.4f%n", ProgressBar.isTerminal() ? System.lineSeparator() : "", step, loss);
    }

    @Override
    public void onCheckpoint(int step, java.nio.file.Path dir) {
        out.printf("checkpoint at step %d: %s%n", step, dir.toAbsolutePath());
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }
}
