package ai.fulgur.inference.server.metrics;

import java.util.function.DoubleSupplier;

/** A value that goes up and down, read from a supplier at scrape time (so it is never stale). */
public final class Gauge implements Metric {
    private final String name;
    private final String help;
    private final DoubleSupplier value;

    Gauge(String name, String help, DoubleSupplier value) {
        this.name = PrometheusText.checkName(name);
        this.help = help;
        this.value = value;
    }

    @Override
    public String name() {
        return name;
    }

    /** The current value. */
    public double value() {
        return value.getAsDouble();
    }

    @Override
    public void writeTo(StringBuilder out) {
        PrometheusText.header(out, name, help, "gauge");
        out.append(name).append(' ').append(PrometheusText.number(value.getAsDouble())).append('\n');
    }
}
