package ai.fulgur.inference.server.metrics;

import java.util.List;

/**
 * Observations counted into cumulative buckets ({@code le} upper bounds) plus their sum and count, as Prometheus
 * histograms are. Synchronised: observations are rare (a few per engine step) next to the work they measure.
 */
public final class Histogram implements Metric {
    private final String name;
    private final String help;
    private final double[] upperBounds;
    private final long[] bucketCounts;
    private long count;
    private double sum;

    Histogram(String name, String help, double[] upperBounds) {
        this.name = PrometheusText.checkName(name);
        this.help = help;
        if (upperBounds.length == 0) {
            throw new IllegalArgumentException(name + ": a histogram needs at least one bucket bound");
        }
        for (int i = 1; i < upperBounds.length; i++) {
            if (!(upperBounds[i] > upperBounds[i - 1])) {
                throw new IllegalArgumentException(name + ": bucket bounds must increase strictly, got "
                        + upperBounds[i - 1] + " then " + upperBounds[i]);
            }
        }
        this.upperBounds = upperBounds.clone();
        this.bucketCounts = new long[upperBounds.length];
    }

    @Override
    public String name() {
        return name;
    }

    /** Records one value. */
    public synchronized void observe(double value) {
        if (Double.isNaN(value)) {
            throw new IllegalArgumentException(name + ": cannot observe NaN");
        }
        for (int i = 0; i < upperBounds.length; i++) {
            if (value <= upperBounds[i]) {
                bucketCounts[i]++;
                break;
            }
        }
        count++;
        sum += value;
    }

    /** Observations so far. */
    public synchronized long count() {
        return count;
    }

    /** Sum of the observations. */
    public synchronized double sum() {
        return sum;
    }

    @Override
    public synchronized void writeTo(StringBuilder out) {
        PrometheusText.header(out, name, help, "histogram");
        long cumulative = 0;
        for (int i = 0; i < upperBounds.length; i++) {
            cumulative += bucketCounts[i];
            bucket(out, PrometheusText.number(upperBounds[i]), cumulative);
        }
        bucket(out, "+Inf", count);
        out.append(name).append("_sum ").append(PrometheusText.number(sum)).append('\n');
        out.append(name).append("_count ").append(count).append('\n');
    }

    private void bucket(StringBuilder out, String le, long n) {
        out.append(name).append("_bucket");
        PrometheusText.labels(out, List.of("le"), List.of(le));
        out.append(' ').append(n).append('\n');
    }

    /** Bounds start, start·factor, …, count of them (the usual exponential latency buckets). */
    public static double[] exponentialBounds(double start, double factor, int count) {
        if (!(start > 0) || !(factor > 1) || count < 1) {
            throw new IllegalArgumentException("exponential buckets need start > 0, factor > 1, count >= 1, got "
                    + start + ", " + factor + ", " + count);
        }
        double[] b = new double[count];
        for (int i = 0; i < count; i++) {
            b[i] = start * Math.pow(factor, i);
        }
        return b;
    }
}
