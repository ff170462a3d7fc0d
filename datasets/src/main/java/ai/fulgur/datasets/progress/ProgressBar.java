package ai.fulgur.datasets.progress;

import java.io.Console;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.math.MathContext;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * A one-line progress bar for long jobs (preparing shards, training epochs):
 * <pre>
 *   prepare  45.0% [=========>           ] 502k/1.12M B  251k B/s  ETA 0:02  docs=3
 * </pre>
 * On a terminal the line is redrawn in place with {@code \r}, at most every 100 ms. When the output is not a
 * terminal (a log file, CI), it prints a plain line every {@code plainInterval} (10 s by default) and a final line,
 * so logs stay readable. The rate is the average since the bar started; the ETA is the remaining work at that rate.
 * Extra {@code key=value} fields (loss, learning rate) follow the numbers in the order first set.
 *
 * <p>{@link #render} is the pure formatting, usable and tested without a terminal. Thread-safe: updates may come
 * from any thread.
 *
 * <pre>
 *   try (ProgressBar bar = ProgressBar.builder("train").setTotal(steps).optUnit("it").build()) {
 *       for (...) { bar.set("loss", loss); bar.step(1); }
 *   }
 *   try (ProgressBar bar = ProgressBar.builder("prepare").optUnit("B").build()) {
 *       ShardPreparer.builder(tokenizer).optProgress(bar::update).build().prepare(input, output);
 *   }
 * </pre>
 */
public final class ProgressBar implements AutoCloseable {

    /** Characters of the bar between its brackets. */
    public static final int BAR_WIDTH = 24;
    private static final long REDRAW_NANOS = 100_000_000L;

    private final String label;
    private long total;
    private final String unit;
    private final PrintStream out;
    private final boolean terminal;
    private final long plainIntervalNanos;
    private final LongSupplier clock;
    private final long startNanos;
    private final long initial;
    private final Map<String, String> fields = new LinkedHashMap<>();
    private long done;
    private long lastDrawNanos;
    private int lastLength;
    private boolean drawn;
    private boolean closed;

    private ProgressBar(Builder builder) {
        this.label = builder.label;
        this.total = builder.total;
        this.unit = builder.unit;
        this.out = builder.out;
        this.terminal = builder.terminal;
        this.plainIntervalNanos = builder.plainInterval.toNanos();
        this.clock = builder.clock;
        this.startNanos = clock.getAsLong();
        this.initial = builder.initial;
        this.done = builder.initial;
        this.lastDrawNanos = startNanos;
    }

    /**
     * @param label the name shown first on the line, e.g. {@code "prepare"}
     * @return a builder; by default the total is unknown (no bar, no ETA), the unit is {@code "it"}, the output is
     *     {@link System#err}, and it is a terminal when {@link System#console()} says so
     */
    public static Builder builder(String label) {
        return new Builder(label);
    }

    /** @return whether this JVM's console is an interactive terminal (redrawing with \r works there) */
    public static boolean isTerminal() {
        Console console = System.console();
        return console != null && console.isTerminal();
    }

    /** Sets the work done so far and redraws if due. */
    public synchronized void update(long done) {
        if (closed) {
            return;
        }
        this.done = done;
        maybeDraw();
    }

    /**
     * Sets the work done and the total, then redraws if due; fits {@code ShardPreparer.ProgressListener} as
     * {@code bar::update}.
     */
    public synchronized void update(long done, long total) {
        if (closed) {
            return;
        }
        this.total = total;
        update(done);
    }

    /** Sets the work done so far and {@code key=value} fields, then redraws if due. */
    public synchronized void update(long done, Map<String, ?> fields) {
        fields.forEach(this::putField);
        update(done);
    }

    /** Adds {@code n} to the work done and redraws if due. */
    public synchronized void step(long n) {
        update(done + n);
    }

    /** Sets a field shown as {@code key=value} (numbers with 4 significant digits) from the next redraw on. */
    public synchronized void set(String key, Object value) {
        putField(key, value);
    }

    private void putField(String key, Object value) {
        fields.put(key, value instanceof Double || value instanceof Float
                ? formatNumber(((Number) value).doubleValue()) : String.valueOf(value));
    }

    /** @return the work done so far */
    public synchronized long done() {
        return done;
    }

    private void maybeDraw() {
        long now = clock.getAsLong();
        long interval = terminal ? REDRAW_NANOS : plainIntervalNanos;
        if (now - lastDrawNanos >= interval || (terminal && !drawn)) {
            draw(now);
        }
    }

    private void draw(long now) {
        String line = render(label, done, total, unit, rate(now), (now - startNanos) / 1e9, fields, BAR_WIDTH);
        if (terminal) {
            // pad over the rest of a longer previous line
            String pad = line.length() < lastLength ? " ".repeat(lastLength - line.length()) : "";
            out.print("\r" + line + pad);
            lastLength = line.length();
        } else {
            out.println(line);
        }
        out.flush();
        lastDrawNanos = now;
        drawn = true;
    }

    private double rate(long now) {
        double seconds = (now - startNanos) / 1e9;
        return seconds > 0 ? (done - initial) / seconds : 0;
    }

    /** Draws the final state and ends the line. Updates after this are ignored. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        draw(clock.getAsLong());
        if (terminal) {
            out.println();
        }
        closed = true;
    }

    /**
     * Formats one progress line.
     *
     * @param label the job's name
     * @param done work done
     * @param total all the work, or 0 or less when unknown (then no percent, bar or ETA)
     * @param unit the unit of work, e.g. {@code "B"}, {@code "tok"}, {@code "it"}
     * @param ratePerSecond work per second; 0 when not known yet
     * @param elapsedSeconds time since the start, shown when the total is unknown
     * @param fields extra {@code key=value} pairs, in order
     * @param barWidth characters between the bar's brackets
     * @return e.g. {@code "prepare  45.0% [==========>          ] 502k/1.12M B  251k B/s  ETA 0:02  docs=3"}
     */
    public static String render(String label, long done, long total, String unit, double ratePerSecond,
            double elapsedSeconds, Map<String, String> fields, int barWidth) {
        StringBuilder line = new StringBuilder(label);
        String u = unit.isEmpty() ? "" : " " + unit;
        if (total > 0) {
            double fraction = Math.clamp((double) done / total, 0.0, 1.0);
            line.append(String.format(Locale.ROOT, " %5.1f%% ", 100 * fraction)).append(bar(fraction, barWidth));
            line.append(' ').append(compact(done)).append('/').append(compact(total)).append(u);
        } else {
            line.append(' ').append(compact(done)).append(u);
        }
        line.append("  ").append(ratePerSecond > 0 ? compact(ratePerSecond) : "?").append(u).append("/s");
        if (total > 0) {
            double remaining = Math.max(0, total - done);
            String eta = remaining == 0 ? duration(0)
                    : ratePerSecond > 0 ? duration(remaining / ratePerSecond) : "?";
            line.append("  ETA ").append(eta);
        } else {
            line.append("  ").append(duration(elapsedSeconds));
        }
        for (Map.Entry<String, String> field : fields.entrySet()) {
            line.append("  ").append(field.getKey()).append('=').append(field.getValue());
        }
        return line.toString();
    }

    /** @return {@code [=====>    ]}: filled cells, a head while unfinished, spaces */
    static String bar(double fraction, int width) {
        int filled = (int) Math.floor(fraction * width);
        StringBuilder bar = new StringBuilder(width + 2).append('[');
        bar.append("=".repeat(filled));
        if (filled < width) {
            bar.append('>').append(" ".repeat(width - filled - 1));
        }
        return bar.append(']').toString();
    }

    /** @return a count with 3 significant digits and an SI suffix from 10,000 on: 9999, 12.3k, 1.12M, 4.56G */
    static String compact(double value) {
        if (value < 10_000) {
            return value == Math.rint(value) ? String.valueOf((long) value)
                    : String.format(Locale.ROOT, "%.3g", value);
        }
        String[] suffixes = {"k", "M", "G", "T", "P"};
        int i = -1;
        while (value >= 999.5 && i < suffixes.length - 1) {
            value /= 1000;
            i++;
        }
        String digits = value >= 99.95 ? String.format(Locale.ROOT, "%.0f", value)
                : value >= 9.995 ? String.format(Locale.ROOT, "%.1f", value)
                : String.format(Locale.ROOT, "%.2f", value);
        return digits + suffixes[i];
    }

    /** @return {@code M:SS} below an hour, else {@code H:MM:SS} */
    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s < 3600 ? String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }

    /** @return 4 significant digits, scientific outside [0.001, 100000): 3.210, 0.02500, 6.000e-05 */
    static String formatNumber(double value) {
        double abs = Math.abs(value);
        if (abs != 0 && (abs < 1e-3 || abs >= 1e5) || Double.isNaN(value) || Double.isInfinite(value)) {
            return String.format(Locale.ROOT, "%.3e", value);
        }
        BigDecimal rounded = new BigDecimal(value).round(new MathContext(4));
        if (rounded.precision() < 4) {
            rounded = rounded.setScale(rounded.scale() + 4 - rounded.precision()); // 2.5 -> 2.500, as wide as 2.513
        }
        return rounded.toPlainString();
    }

    /** Options of a {@link ProgressBar}. */
    public static final class Builder {
        private final String label;
        private long total;
        private String unit = "it";
        private long initial;
        private PrintStream out = System.err;
        private boolean terminal = isTerminal();
        private Duration plainInterval = Duration.ofSeconds(10);
        private LongSupplier clock = System::nanoTime;

        private Builder(String label) {
            this.label = Objects.requireNonNull(label, "label");
        }

        /** @param total all the work, e.g. bytes of the corpus or steps of an epoch; 0 or less for unknown */
        public Builder setTotal(long total) {
            this.total = total;
            return this;
        }

        /** @param unit the unit of work shown after counts and rates, e.g. {@code "B"}; default {@code "it"} */
        public Builder optUnit(String unit) {
            this.unit = Objects.requireNonNull(unit, "unit");
            return this;
        }

        /** @param initial work already done when the bar starts (a resumed job), not counted in the rate */
        public Builder optInitial(long initial) {
            this.initial = initial;
            return this;
        }

        /** @param out where lines go; default {@link System#err}, so standard output stays clean */
        public Builder optOutput(PrintStream out) {
            this.out = Objects.requireNonNull(out, "out");
            return this;
        }

        /** @param terminal whether to redraw in place; default {@link ProgressBar#isTerminal()} */
        public Builder optTerminal(boolean terminal) {
            this.terminal = terminal;
            return this;
        }

        /** @param interval time between plain lines when not on a terminal; default 10 s */
        public Builder optPlainInterval(Duration interval) {
            if (interval.isNegative()) {
                throw new IllegalArgumentException("plain-line interval must not be negative, got " + interval);
            }
            this.plainInterval = interval;
            return this;
        }

        /** For tests: the source of {@link System#nanoTime()}-like readings. */
        Builder clock(LongSupplier nanoClock) {
            this.clock = Objects.requireNonNull(nanoClock, "nanoClock");
            return this;
        }

        /** @return the bar, started now */
        public ProgressBar build() {
            return new ProgressBar(this);
        }
    }
}
