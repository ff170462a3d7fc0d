package ai.fulgur.ops.cpu;

/**
 * The error function, which {@link Math} lacks: an accurate double version (the reference, used for F64 and by tests)
 * and a fast one for F32 kernels whose error is below float resolution of the GELU it feeds.
 */
public final class SpecialFunctions {
    private static final double TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

    private SpecialFunctions() {}

    /**
     * erf(x) to about 1e-15 relative: the Maclaurin series below |x| = 2.5 and a continued fraction for erfc above
     * (the series loses digits to cancellation for large x, the fraction converges slowly for small x).
     */
    public static double erf(double x) {
        if (Double.isNaN(x)) {
            return x;
        }
        double ax = Math.abs(x);
        if (ax < 2.5) {
            // erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
            double x2 = x * x;
            double term = x;
            double sum = x;
            for (int n = 1; n < 100; n++) {
                term *= -x2 / n;
                double t = term / (2 * n + 1);
                sum += t;
                if (Math.abs(t) < 1e-17 * Math.abs(sum)) {
                    break;
                }
            }
            return TWO_OVER_SQRT_PI * sum;
        }
        if (ax > 6) {
            return Math.copySign(1.0, x); // erfc(6) < 3e-17
        }
        // erfc(x) = exp(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))), evaluated bottom-up
        double f = ax;
        for (int k = 60; k >= 1; k--) {
            f = ax + (k / 2.0) / f;
        }
        double erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
        return Math.copySign(1 - erfc, x);
    }

    /**
     * erf(x) for float kernels: the series near 0 (keeps relative accuracy there) and Abramowitz–Stegun 7.1.26
     * elsewhere (absolute error below 1.5e-7). The formula is evaluated in double and rounded once: in float, its
     * rounding errors added up to 2.1e-7 (at x = −0.9425).
     */
    public static float erfFloat(float x) {
        double ax = Math.abs(x);
        if (ax < 0.5) {
            double x2 = (double) x * x;
            // 2/√π (x − x³/3 + x⁵/10 − x⁷/42 + x⁹/216 − x¹¹/1320)
            double p = 1 + x2 * (-1.0 / 3 + x2 * (1.0 / 10 + x2 * (-1.0 / 42 + x2 * (1.0 / 216 + x2 * (-1.0 / 1320)))));
            return (float) (TWO_OVER_SQRT_PI * x * p);
        }
        double t = 1 / (1 + 0.3275911 * ax);
        double poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                + t * 1.061405429))));
        double y = 1 - poly * Math.exp(-ax * ax);
        return (float) Math.copySign(y, x);
    }
}
