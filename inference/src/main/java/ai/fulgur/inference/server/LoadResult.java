package ai.fulgur.inference.server;

import java.util.Arrays;

/**
 * What one load-test run measured (client side, except the KV waste, which is the engine's).
 *
 * @param mode            "continuous" or "static(B)"
 * @param rate            offered request rate, requests/s (Poisson arrivals)
 * @param sent            requests sent
 * @param completed       requests answered 200 with every token
 * @param failed          requests that got an error status or did not finish in time
 * @param seconds         from the first send to the last answer
 * @param requestsPerSec  completed / seconds
 * @param outputTokensPerSec completion tokens of completed requests / seconds
 * @param ttft            time to first token, seconds (first streamed text)
 * @param tpot            time per output token after the first, seconds: (e2e − ttft) / (tokens − 1)
 * @param e2e             end-to-end latency, seconds
 * @param kvWaste         engine KV waste over the run: 1 − Σ filled slots / Σ allocated slots, summed over steps
 * @param peakKvUsed      most KV blocks used at once (sampled each step)
 */
public record LoadResult(String mode, double rate, int sent, int completed, int failed, double seconds,
        double requestsPerSec, double outputTokensPerSec, Latency ttft, Latency tpot, Latency e2e, double kvWaste,
        int peakKvUsed) {

    /** Percentiles (nearest rank) of one latency, seconds; NaN when there were no samples. */
    public record Latency(double p50, double p90, double p99, double mean) {
        static Latency of(double[] values) {
            if (values.length == 0) {
                return new Latency(Double.NaN, Double.NaN, Double.NaN, Double.NaN);
            }
            double[] v = values.clone();
            Arrays.sort(v);
            return new Latency(rank(v, 0.50), rank(v, 0.90), rank(v, 0.99), Arrays.stream(v).average()
                    .orElseThrow());
        }

        /** Nearest-rank percentile: the smallest value with at least q of the samples at or below it. */
        static double rank(double[] sorted, double q) {
            int i = (int) Math.ceil(q * sorted.length) - 1;
            return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
        }
    }
}
