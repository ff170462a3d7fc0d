package ai.fulgur.inference.server.metrics;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.DoubleSupplier;

/**
 * A small Prometheus registry: counters, gauges and histograms registered by name and rendered in the text
 * exposition format (version 0.0.4) for a {@code GET /metrics} scrape. No client library: the format is a few lines
 * per family. Thread-safe.
 */
public final class MetricsRegistry {
    /** The Content-Type of {@link #render()}. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final Map<String, Metric> metrics = new LinkedHashMap<>();

    /** A counter without labels. */
    public Counter counter(String name, String help) {
        return register(new Counter(name, help, List.of()));
    }

    /** A counter split by these labels. */
    public Counter counter(String name, String help, String... labelNames) {
        return register(new Counter(name, help, List.of(labelNames)));
    }

    /** A gauge read from {@code value} at each scrape. */
    public Gauge gauge(String name, String help, DoubleSupplier value) {
        return register(new Gauge(name, help, value));
    }

    /** A histogram with these bucket upper bounds (increasing; +Inf is implied). */
    public Histogram histogram(String name, String help, double... upperBounds) {
        return register(new Histogram(name, help, upperBounds));
    }

    private synchronized <M extends Metric> M register(M metric) {
        if (metrics.putIfAbsent(metric.name(), metric) != null) {
            throw new IllegalArgumentException("a metric named " + metric.name() + " is already registered");
        }
        return metric;
    }

    /** Every family in registration order, in the Prometheus text format. */
    public synchronized String render() {
        StringBuilder out = new StringBuilder();
        for (Metric m : metrics.values()) {
            m.writeTo(out);
        }
        return out.toString();
    }
}
