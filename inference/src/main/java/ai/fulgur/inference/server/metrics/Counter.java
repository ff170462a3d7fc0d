package ai.fulgur.inference.server.metrics;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.DoubleAdder;

/**
 * A monotonically increasing count, optionally split by labels (one child per label-value combination, created on
 * first use). Thread-safe.
 */
public final class Counter implements Metric {
    private final String name;
    private final String help;
    private final List<String> labelNames;
    // Sorted so the exposition is stable between scrapes.
    private final Map<List<String>, DoubleAdder> children = new ConcurrentSkipListMap<>(Counter::compare);

    Counter(String name, String help, List<String> labelNames) {
        this.name = PrometheusText.checkName(name);
        this.help = help;
        this.labelNames = PrometheusText.checkLabels(labelNames);
        if (labelNames.isEmpty()) {
            children.put(List.of(), new DoubleAdder());
        }
    }

    @Override
    public String name() {
        return name;
    }

    /** Adds 1 to the child with these label values (in the order of the label names). */
    public void inc(String... labelValues) {
        add(1, labelValues);
    }

    /** Adds {@code amount} (≥ 0) to the child with these label values. */
    public void add(double amount, String... labelValues) {
        if (!(amount >= 0)) {
            throw new IllegalArgumentException(name + ": a counter only goes up, got an increment of " + amount);
        }
        child(labelValues).add(amount);
    }

    /** The current value of one child (0 if it was never touched). */
    public double value(String... labelValues) {
        DoubleAdder a = children.get(List.of(labelValues));
        return a == null ? 0 : a.sum();
    }

    private DoubleAdder child(String... labelValues) {
        if (labelValues.length != labelNames.size()) {
            throw new IllegalArgumentException(name + " has labels " + labelNames + ", got values "
                    + Arrays.toString(labelValues));
        }
        return children.computeIfAbsent(List.of(labelValues), k -> new DoubleAdder());
    }

    @Override
    public void writeTo(StringBuilder out) {
        PrometheusText.header(out, name, help, "counter");
        for (Map.Entry<List<String>, DoubleAdder> e : children.entrySet()) {
            out.append(name);
            PrometheusText.labels(out, labelNames, e.getKey());
            out.append(' ').append(PrometheusText.number(e.getValue().sum())).append('\n');
        }
    }

    static int compare(List<String> a, List<String> b) {
        for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
            int c = a.get(i).compareTo(b.get(i));
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(a.size(), b.size());
    }
}
