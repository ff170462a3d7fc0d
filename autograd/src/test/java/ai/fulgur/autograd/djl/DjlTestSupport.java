package ai.fulgur.autograd.djl;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import java.nio.ByteBuffer;

/**
 * Shared helpers of the DJL engine tests: the two engines, managers on each, identical inputs for both, and a
 * comparison that reads values through {@code toByteBuffer()} (so it does not depend on either engine's toType) and
 * names the array, the index, both values and the tolerance.
 */
final class DjlTestSupport {
    /** F32 on both engines after a handful of ops: a few ulps of values of order one. */
    static final double TOL = 1e-5;

    static {
        System.setProperty("ai.djl.offline", "true");
    }

    private DjlTestSupport() {}

    static Engine fulgur() {
        return Engine.getEngine(FulgurEngine.ENGINE_NAME);
    }

    /** A fresh Fulgur manager on the CPU; close it when done. */
    static NDManager fulgurManager() {
        return NDManager.newBaseManager(Device.cpu(), FulgurEngine.ENGINE_NAME);
    }

    /** A fresh PyTorch manager on the CPU; close it when done. */
    static NDManager torchManager() {
        return ai.fulgur.ops.testing.TorchOracle.manager();
    }

    /** Standard normal F32 values from a seeded generator (the same on every call with the same seed). */
    static float[] normal(long seed, int n) {
        return ai.fulgur.ops.testing.TestTensors.normalFloats(seed, n);
    }

    /** A FLOAT32 array of the given shape with {@link #normal} values, on {@code m}. */
    static NDArray normal(NDManager m, long seed, long... shape) {
        Shape s = new Shape(shape);
        return m.create(normal(seed, Math.toIntExact(s.size())), s);
    }

    /** Elements as doubles, read from {@code toByteBuffer()} in the buffer's own byte order. */
    static double[] values(NDArray a) {
        ByteBuffer b = a.toByteBuffer();
        int n = Math.toIntExact(a.size());
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (a.getDataType()) {
                case FLOAT32 -> b.getFloat(i * 4);
                case FLOAT64 -> b.getDouble(i * 8);
                case INT64 -> b.getLong(i * 8);
                case INT32 -> b.getInt(i * 4);
                case INT8, BOOLEAN -> b.get(i);
                case UINT8 -> b.get(i) & 0xFF;
                default -> throw new IllegalArgumentException("no test conversion for " + a.getDataType());
            };
        }
        return v;
    }

    /** Fails unless shapes and data types match and values agree within atol + rtol·|expected|. */
    static void assertClose(String what, NDArray expected, NDArray actual, double atol, double rtol) {
        if (!expected.getShape().equals(actual.getShape())) {
            throw new AssertionError(what + ": shape " + actual.getShape() + ", expected " + expected.getShape());
        }
        if (expected.getDataType() != actual.getDataType()) {
            throw new AssertionError(what + ": data type " + actual.getDataType() + ", expected "
                    + expected.getDataType());
        }
        assertValues(what, values(expected), values(actual), atol, rtol);
    }

    /** {@link #assertClose} with {@link #TOL} absolute and relative. */
    static void assertClose(String what, NDArray expected, NDArray actual) {
        assertClose(what, expected, actual, TOL, TOL);
    }

    /** Fails unless the arrays have the same length and agree within atol + rtol·|expected| (NaN matches NaN). */
    static void assertValues(String what, double[] e, double[] a, double atol, double rtol) {
        if (e.length != a.length) {
            throw new AssertionError(what + ": " + a.length + " elements, expected " + e.length);
        }
        for (int i = 0; i < e.length; i++) {
            boolean bothNaN = Double.isNaN(e[i]) && Double.isNaN(a[i]);
            double diff = Math.abs(a[i] - e[i]);
            if (!bothNaN && e[i] != a[i] && !(diff <= atol + rtol * Math.abs(e[i]))) {
                throw new AssertionError(what + ": mismatch at " + i + " of " + e.length + ": expected " + e[i]
                        + ", got " + a[i] + " (|diff| " + diff + " > atol " + atol + " + rtol " + rtol
                        + "·|expected|)");
            }
        }
    }

    /** Copies every parameter value of {@code from} into the same-named parameter of {@code to}, in place. */
    static void copyParameters(Block from, Block to) {
        PairList<String, Parameter> src = from.getParameters();
        PairList<String, Parameter> dst = to.getParameters();
        if (src.size() != dst.size()) {
            throw new AssertionError("blocks differ: " + src.keys() + " vs " + dst.keys());
        }
        for (Pair<String, Parameter> s : src) {
            Parameter d = dst.get(s.getKey());
            if (d == null) {
                throw new AssertionError("parameter " + s.getKey() + " missing in " + dst.keys());
            }
            d.getArray().set(s.getValue().getArray().toFloatArray());
        }
    }

    /** Fails unless every parameter of the two blocks holds the same values. */
    static void assertSameParameters(String what, Block expected, Block actual, double tol) {
        for (Pair<String, Parameter> p : expected.getParameters()) {
            NDArray a = actual.getParameters().get(p.getKey()).getArray();
            assertClose(what + ": parameter " + p.getKey(), p.getValue().getArray(), a, tol, tol);
        }
    }

    /** Fails unless every parameter's gradient in the two blocks agrees. */
    static void assertSameGradients(String what, Block expected, Block actual, double tol) {
        for (Pair<String, Parameter> p : expected.getParameters()) {
            NDArray a = actual.getParameters().get(p.getKey()).getArray().getGradient();
            assertClose(what + ": gradient of " + p.getKey(), p.getValue().getArray().getGradient(), a, tol, tol);
        }
    }
}
