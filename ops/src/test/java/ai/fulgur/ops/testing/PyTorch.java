package ai.fulgur.ops.testing;

import ai.djl.engine.Engine;
import ai.djl.engine.EngineProvider;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import java.util.ServiceLoader;

/**
 * {@link TorchOracle} as this module's tests open it, plus dtype-checking comparisons.
 *
 * <p>The build's surefire settings name {@code Fulgur} as DJL's default engine (right for the modules that ship it); in
 * {@code ops} no such engine is on the class path, and DJL's {@code Engine} class then fails to initialise ("Unknown
 * default engine: Fulgur"). Before any use of {@code Engine}, this class points the default at PyTorch when the named
 * engine has no provider.
 *
 * <p>Known limitation: converting to BFLOAT16 or FLOAT16 inside DJL's PyTorch engine (2.7.1-0.36.0) aborts the JVM
 * ("terminate called without an active exception"), so half-precision references are computed in Java instead.
 */
public final class PyTorch {
    static {
        System.setProperty("ai.djl.offline", "true");
        String wanted = System.getProperty("ai.djl.default_engine");
        if (wanted != null && !hasProvider(wanted)) {
            System.setProperty("ai.djl.default_engine", "PyTorch");
        }
    }

    private PyTorch() {}

    /** A fresh PyTorch manager; close it when done. */
    public static NDManager manager() {
        return TorchOracle.manager();
    }

    /** The PyTorch engine, for gradient collectors. */
    public static Engine engine() {
        return TorchOracle.engine();
    }

    /** Our tensor as a PyTorch array of the same dtype. */
    public static NDArray torch(NDManager m, Tensor t) {
        return TorchOracle.toTorch(m, t);
    }

    /** A PyTorch array as our host tensor. */
    public static Tensor ours(NDArray a) {
        return TorchOracle.fromTorch(a);
    }

    /** Our dtype for a PyTorch one. */
    public static DType dtypeOf(DataType t) {
        return switch (t) {
            case FLOAT64 -> DType.F64;
            case FLOAT32 -> DType.F32;
            case INT64 -> DType.I64;
            case INT32 -> DType.I32;
            case BOOLEAN -> DType.BOOL;
            case INT8 -> DType.I8;
            case UINT8 -> DType.U8;
            case FLOAT16 -> DType.F16;
            case BFLOAT16 -> DType.BF16;
            default -> throw new IllegalArgumentException("no Fulgur dtype for " + t);
        };
    }

    /**
     * Fails unless {@code actual} has PyTorch's dtype and shape and matches within atol + rtol·|expected|; integer and
     * boolean results with zero tolerances are compared exactly as longs.
     */
    public static void assertMatches(String what, NDArray expected, Tensor actual, double atol, double rtol) {
        DType want = dtypeOf(expected.getDataType());
        if (actual.dtype() != want) {
            throw new AssertionError(what + ": dtype " + actual.dtype() + ", PyTorch gives " + want);
        }
        if (!want.isFloating() && atol == 0 && rtol == 0) {
            assertSameLongs(what, ours(expected), actual); // doubles would blur I64 values past 2^53
        } else {
            TestTensors.assertClose(what, ours(expected), actual, atol, rtol);
        }
    }

    /** Fails unless both tensors have the same shape and the same elements read as longs. */
    public static void assertSameLongs(String what, Tensor expected, Tensor actual) {
        if (!expected.shape().equals(actual.shape())) {
            throw new AssertionError(what + ": shape " + actual.shape() + ", expected " + expected.shape());
        }
        long[] e = expected.toLongArray();
        long[] a = actual.toLongArray();
        for (int i = 0; i < e.length; i++) {
            if (e[i] != a[i]) {
                throw new AssertionError(what + ": mismatch at " + i + " of " + e.length + ": expected " + e[i]
                        + ", got " + a[i] + " (exact)");
            }
        }
    }

    private static boolean hasProvider(String engineName) {
        for (EngineProvider p : ServiceLoader.load(EngineProvider.class, PyTorch.class.getClassLoader())) {
            if (engineName.equals(p.getEngineName())) {
                return true;
            }
        }
        return false;
    }
}
