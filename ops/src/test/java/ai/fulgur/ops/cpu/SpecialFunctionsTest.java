package ai.fulgur.ops.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.fulgur.ops.testing.PyTorch;
import org.junit.jupiter.api.Test;

/**
 * {@link SpecialFunctions#erf} against published values (to 1e-14) and PyTorch's float64 erf over [−7, 7];
 * {@link SpecialFunctions#erfFloat} against the same to 2e-7 absolute.
 */
class SpecialFunctionsTest {
    /** x, erf(x) to 16 digits. */
    private static final double[][] KNOWN = {
        {0.5, 0.5204998778130465},
        {1.0, 0.8427007929497149},
        {2.0, 0.9953222650189527},
        {3.0, 0.9999779095030014},
        {-1.5, -0.9661051464753108},
        {0.1, 0.1124629160182849},
        {-0.25, -0.2763263901682369},
        {2.5, 0.9995930479825550},
        {4.0, 0.9999999845827421},
    };

    @Test
    void erfMatchesKnownValues() {
        for (double[] k : KNOWN) {
            assertEquals(k[1], SpecialFunctions.erf(k[0]), 1e-14, "erf(" + k[0] + ")");
            assertEquals(k[1], SpecialFunctions.erfFloat((float) k[0]), 2e-7, "erfFloat(" + k[0] + ")");
        }
        assertEquals(0.0, SpecialFunctions.erf(0.0));
        assertEquals(1.0, SpecialFunctions.erf(10));
        assertEquals(-1.0, SpecialFunctions.erf(Double.NEGATIVE_INFINITY));
        assertTrue(Double.isNaN(SpecialFunctions.erf(Double.NaN)));
        assertEquals(1e-10 * 2 / Math.sqrt(Math.PI), SpecialFunctions.erf(1e-10), 1e-25, "erf is linear near 0");
    }

    @Test
    void erfMatchesTorchAcrossTheRange() {
        int n = 28001;
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = -7 + 14.0 * i / (n - 1); // includes the 2.5 and 6 branch switches, both sides
        }
        double[] ref;
        try (NDManager m = PyTorch.manager()) {
            ref = m.create(x).erf().toDoubleArray();
        }
        for (int i = 0; i < n; i++) {
            double e = Math.abs(SpecialFunctions.erf(x[i]) - ref[i]);
            assertTrue(e <= 1e-14, "erf(" + x[i] + ") = " + SpecialFunctions.erf(x[i]) + ", PyTorch " + ref[i]);
        }
        // erfFloat on float arguments, against PyTorch's float64 erf of the same (widened) arguments
        float[] xf = new float[n];
        double[] xfd = new double[n];
        for (int i = 0; i < n; i++) {
            xf[i] = (float) x[i];
            xfd[i] = xf[i];
        }
        double[] reff;
        try (NDManager m = PyTorch.manager()) {
            reff = m.create(xfd).erf().toDoubleArray();
        }
        for (int i = 0; i < n; i++) {
            double ef = Math.abs(SpecialFunctions.erfFloat(xf[i]) - reff[i]);
            assertTrue(ef <= 2e-7, "erfFloat(" + xf[i] + ") = " + SpecialFunctions.erfFloat(xf[i]) + ", PyTorch "
                    + reff[i]);
        }
    }
}
