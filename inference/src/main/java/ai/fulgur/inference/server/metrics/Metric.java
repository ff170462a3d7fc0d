package ai.fulgur.inference.server.metrics;

/** One metric family of a {@link MetricsRegistry}, able to write itself in the Prometheus text format. */
public interface Metric {

    /** The family name, e.g. {@code fulgur_requests_total}. */
    String name();

    /** Appends the {@code # HELP}, {@code # TYPE} and sample lines. */
    void writeTo(StringBuilder out);
}
