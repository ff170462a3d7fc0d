package ai.fulgur.cli;

import ai.fulgur.training.loop.TrainingLoop;
import java.io.PrintStream;
import java.time.Duration;

/** Prints a training run's progress: step, loss, tokens/s and time left, plus every evaluation and checkpoint. */
final class ConsoleProgress implements TrainingLoop.Listener {
    private final PrintStream out;
    private final int every;
    private double smoothed = Double.NaN;
    private int firstStep = -1; // a resumed run starts past 1

    /** Prints to {@code out} every {@code every} steps (and the last). */
    ConsoleProgress(PrintStream out, int every) {
        this.out = out;
        this.every = Math.max(1, every);
    }

    @Override
    public void onStep(int step, int steps, double loss, long tokens, double seconds) {
        smoothed = Double.isNaN(smoothed) ? loss : 0.9 * smoothed + 0.1 * loss;
        if (firstStep < 0) {
            firstStep = step - 1;
        }
        if (step % every == 0 || step == steps) {
            double rate = tokens / Math.max(seconds, 1e-9);
            long left = Math.round(seconds / (step - firstStep) * (steps - step));
            out.printf("step %6d/%d  loss %.4f  %,.0f tokens/s  ETA %s%n", step, steps, smoothed, rate,
                    format(Duration.ofSeconds(left)));
        }
    }

    @Override
    public void onEval(int step, double loss) {
        out.printf("step %6d  eval loss %.4f%n", step, loss);
    }

    @Override
    public void onCheckpoint(int step, java.nio.file.Path dir) {
        out.printf("step %6d  checkpoint %s%n", step, dir.toAbsolutePath());
    }

    private static String format(Duration d) {
        return String.format("%d:%02d:%02d", d.toHours(), d.toMinutesPart(), d.toSecondsPart());
    }
}
