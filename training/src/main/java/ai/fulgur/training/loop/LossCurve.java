package ai.fulgur.training.loop;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The training and evaluation losses of a run by step, drawn as a self-contained SVG file (no scripts, no external
 * resources; any browser shows it) next to the checkpoint.
 */
public final class LossCurve {
    private static final int WIDTH = 720;
    private static final int HEIGHT = 420;
    private static final int LEFT = 64;
    private static final int RIGHT = 20;
    private static final int TOP = 36;
    private static final int BOTTOM = 48;

    /** A loss measured after {@code step} updates. */
    public record Point(long step, double loss) {
    }

    private final List<Point> train = new ArrayList<>();
    private final List<Point> eval = new ArrayList<>();

    /** Records a training loss. */
    public void addTrain(long step, double loss) {
        train.add(new Point(step, loss));
    }

    /** Records an evaluation loss. */
    public void addEval(long step, double loss) {
        eval.add(new Point(step, loss));
    }

    /** The training losses so far. */
    public List<Point> train() {
        return List.copyOf(train);
    }

    /** The evaluation losses so far. */
    public List<Point> eval() {
        return List.copyOf(eval);
    }

    /** The SVG document of the curves, titled {@code title}. */
    public String toSvg(String title) {
        List<Point> all = new ArrayList<>(train);
        all.addAll(eval);
        all.removeIf(p -> !Double.isFinite(p.loss()));
        double minStep = all.stream().mapToDouble(Point::step).min().orElse(0);
        double maxStep = Math.max(minStep + 1, all.stream().mapToDouble(Point::step).max().orElse(1));
        double minLoss = Math.min(0, all.stream().mapToDouble(Point::loss).min().orElse(0));
        double maxLoss = Math.max(minLoss + 1e-6, all.stream().mapToDouble(Point::loss).max().orElse(1));
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">%n", WIDTH, HEIGHT, WIDTH, HEIGHT));
        svg.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"22\" font-size=\"15\">%s</text>%n", LEFT,
                escape(title)));
        int plotW = WIDTH - LEFT - RIGHT;
        int plotH = HEIGHT - TOP - BOTTOM;
        svg.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                + "stroke=\"#888\"/>%n", LEFT, TOP, plotW, plotH));
        for (int i = 0; i <= 5; i++) { // grid and tick labels
            double f = i / 5.0;
            double y = TOP + plotH * (1 - f);
            double x = LEFT + plotW * f;
            svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>"
                    + "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n", LEFT, y, LEFT + plotW, y, LEFT - 6,
                    y + 4, tick(minLoss + f * (maxLoss - minLoss))));
            svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>%n", x,
                    TOP + plotH + 18, Math.round(minStep + f * (maxStep - minStep))));
        }
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">step</text>%n",
                LEFT + plotW / 2, HEIGHT - 8));
        polyline(svg, train, "#1f77b4", minStep, maxStep, minLoss, maxLoss, plotW, plotH);
        polyline(svg, eval, "#d62728", minStep, maxStep, minLoss, maxLoss, plotW, plotH);
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" fill=\"#1f77b4\">— train loss</text>"
                + "<text x=\"%d\" y=\"%d\" fill=\"#d62728\">— eval loss</text>%n", WIDTH - 230, TOP + 18,
                WIDTH - 120, TOP + 18));
        svg.append("</svg>\n");
        return svg.toString();
    }

    /** Writes the SVG to {@code file} atomically. */
    public void writeSvg(Path file, String title) throws IOException {
        ai.fulgur.training.checkpoint.AtomicFiles.write(file, toSvg(title).getBytes(StandardCharsets.UTF_8));
    }

    private static void polyline(StringBuilder svg, List<Point> points, String color, double minStep,
            double maxStep, double minLoss, double maxLoss, int plotW, int plotH) {
        StringBuilder coords = new StringBuilder();
        for (Point p : points) {
            if (!Double.isFinite(p.loss())) {
                continue;
            }
            double x = LEFT + plotW * (p.step() - minStep) / (maxStep - minStep);
            double y = TOP + plotH * (1 - (p.loss() - minLoss) / (maxLoss - minLoss));
            coords.append(String.format(Locale.ROOT, "%.1f,%.1f ", x, y));
        }
        if (!coords.isEmpty()) {
            svg.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                    + "points=\"%s\"/>%n", color, coords.toString().trim()));
        }
    }

    private static String tick(double v) {
        return String.format(Locale.ROOT, Math.abs(v) >= 10 ? "%.1f" : "%.2f", v);
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
