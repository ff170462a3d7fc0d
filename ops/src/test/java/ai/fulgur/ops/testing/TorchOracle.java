package ai.fulgur.ops.testing;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;

/**
 * PyTorch (DJL's PyTorch engine on the CPU, offline) as the independent reference for tests: converts our tensors to
 * PyTorch NDArrays and back. Each test opens one manager and closes it.
 */
public final class TorchOracle {
    static {
        System.setProperty("ai.djl.offline", "true");
    }

    private TorchOracle() {}

    /** A fresh PyTorch manager; close it when done. */
    public static NDManager manager() {
        return NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch");
    }

    /** The PyTorch engine (loads libtorch on first use). */
    public static Engine engine() {
        return Engine.getEngine("PyTorch");
    }

    /** Our tensor as a PyTorch NDArray of the same dtype (F32, F64, I64, I32, BOOL). */
    public static NDArray toTorch(NDManager m, Tensor t) {
        long[] shape = t.shape().dims();
        ai.djl.ndarray.types.Shape s = new ai.djl.ndarray.types.Shape(shape);
        return switch (t.dtype()) {
            case F64 -> m.create(t.toDoubleArray(), s);
            case F32 -> m.create(t.toFloatArray(), s);
            case I64 -> m.create(t.toLongArray(), s);
            case I32 -> m.create(toInts(t.toLongArray()), s);
            case BOOL -> m.create(toBools(t.toLongArray()), s);
            default -> throw new IllegalArgumentException("no PyTorch conversion for " + t.dtype() + " in tests");
        };
    }

    /** A PyTorch NDArray as our host tensor (same dtype). */
    public static Tensor fromTorch(NDArray a) {
        long[] shape = a.getShape().getShape();
        return switch (a.getDataType()) {
            case FLOAT64 -> Tensor.of(a.toDoubleArray(), shape);
            case FLOAT32 -> Tensor.of(a.toFloatArray(), shape);
            case INT64 -> Tensor.of(a.toLongArray(), shape);
            case INT32 -> Tensor.of(a.toIntArray(), shape);
            case BOOLEAN -> Tensor.of(toLongs(a.toBooleanArray()), shape).cast(DType.BOOL);
            default -> fromTorch(a.toType(DataType.FLOAT64, false));
        };
    }

    private static int[] toInts(long[] v) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = Math.toIntExact(v[i]);
        }
        return out;
    }

    private static boolean[] toBools(long[] v) {
        boolean[] out = new boolean[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i] != 0;
        }
        return out;
    }

    private static long[] toLongs(boolean[] v) {
        long[] out = new long[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i] ? 1 : 0;
        }
        return out;
    }
}
