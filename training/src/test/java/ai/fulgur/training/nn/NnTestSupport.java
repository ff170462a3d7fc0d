package ai.fulgur.training.nn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import ai.fulgur.autograd.djl.FulgurEngine;
import java.nio.ByteBuffer;

/**
 * Helpers of the block tests: managers on both engines, seeded inputs, parameter copies by value across engines, and
 * comparisons that name the array, the index, both values and the tolerance.
 */
final class NnTestSupport {
    static {
        System.setProperty("ai.djl.offline", "true");
    }

    private NnTestSupport() {}

    /** A fresh Fulgur manager on the CPU; close it when done. */
    static NDManager fulgurManager() {
        return NDManager.newBaseManager(Device.cpu(), FulgurEngine.ENGINE_NAME);
    }

    /** A fresh PyTorch manager on the CPU; close it when done. */
    static NDManager torchManager() {
        return ai.fulgur.ops.testing.TorchOracle.manager();
    }

    /** Standard-normal F32 values from a seeded generator (Box–Muller), the same for the same seed. */
    static float[] normal(long seed, int n) {
        return ai.fulgur.ops.testing.TestTensors.normalFloats(seed, n);
    }

    /** A FLOAT32 array of {@link #normal} values times {@code scale}. */
    static NDArray normal(NDManager m, long seed, float scale, long... shape) {
        Shape s = new Shape(shape);
        float[] v = normal(seed, Math.toIntExact(s.size()));
        for (int i = 0; i < v.length; i++) {
            v[i] *= scale;
        }
        return m.create(v, s);
    }

    /** Elements as doubles, read from {@code toByteBuffer()} (no engine cast involved). */
    static double[] values(NDArray a) {
        ByteBuffer b = a.toByteBuffer();
        int n = Math.toIntExact(a.size());
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (a.getDataType()) {
                case FLOAT32 -> b.getFloat(i * 4);
                case FLOAT64 -> b.getDouble(i * 8);
                default -> throw new IllegalArgumentException("no test conversion for " + a.getDataType());
            };
        }
        return v;
    }

    /** Fails unless shapes match and values agree within atol + rtol·|expected|; returns the largest difference. */
    static double assertClose(String what, NDArray expected, NDArray actual, double atol, double rtol) {
        if (!expected.getShape().equals(actual.getShape())) {
            throw new AssertionError(what + ": shape " + actual.getShape() + ", expected " + expected.getShape());
        }
        return assertValues(what, values(expected), values(actual), atol, rtol);
    }

    /** Fails unless the arrays agree within atol + rtol·|expected| (and are finite); returns the largest difference. */
    static double assertValues(String what, double[] e, double[] a, double atol, double rtol) {
        if (e.length != a.length) {
            throw new AssertionError(what + ": " + a.length + " elements, expected " + e.length);
        }
        double max = 0;
        for (int i = 0; i < e.length; i++) {
            double diff = Math.abs(a[i] - e[i]);
            if (!Double.isFinite(a[i]) || !(diff <= atol + rtol * Math.abs(e[i]))) {
                throw new AssertionError(what + ": mismatch at " + i + " of " + e.length + ": expected " + e[i]
                        + ", got " + a[i] + " (|diff| " + diff + " > atol " + atol + " + rtol " + rtol
                        + "·|expected|)");
            }
            max = Math.max(max, diff);
        }
        return max;
    }

    /** Sets every parameter of {@code block} to seeded normal values times {@code scale}, biases included. */
    static void randomizeParameters(Block block, long seed, float scale) {
        int i = 0;
        for (Pair<String, Parameter> p : block.getParameters()) {
            NDArray a = p.getValue().getArray();
            float[] v = normal(seed + 1000L * i++, Math.toIntExact(a.size()));
            for (int j = 0; j < v.length; j++) {
                v[j] *= scale;
            }
            a.set(v);
        }
    }

    /** Copies every parameter value of {@code from} into the same-named parameter of {@code to}, by value. */
    static void copyParameters(Block from, Block to) {
        PairList<String, Parameter> src = from.getParameters();
        PairList<String, Parameter> dst = to.getParameters();
        if (!src.keys().equals(dst.keys())) {
            throw new AssertionError("blocks differ: " + src.keys() + " vs " + dst.keys());
        }
        for (Pair<String, Parameter> s : src) {
            NDArray target = dst.get(s.getKey()).getArray();
            if (!target.getShape().equals(s.getValue().getArray().getShape())) {
                throw new AssertionError("parameter " + s.getKey() + ": shape " + target.getShape() + " vs "
                        + s.getValue().getArray().getShape());
            }
            target.set(s.getValue().getArray().toFloatArray());
        }
    }

    /** Fails unless every parameter gradient of the two blocks agrees; returns the largest difference. */
    static double assertSameGradients(String what, Block expected, Block actual, double atol, double rtol) {
        double max = 0;
        for (Pair<String, Parameter> p : expected.getParameters()) {
            NDArray e = p.getValue().getArray().getGradient();
            NDArray a = actual.getParameters().get(p.getKey()).getArray().getGradient();
            max = Math.max(max, assertClose(what + ": gradient of " + p.getKey(), e, a, atol, rtol));
        }
        return max;
    }
}
