package ai.fulgur.autograd.djl;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.util.PairList;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.random.Rng;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.Charset;
import java.nio.file.Path;

/**
 * DJL's resource tree over Fulgur tensors: creates arrays on its device and closes them when it closes. The root is
 * a system manager that is never closed; everything else is a sub-manager of it.
 */
public class FulgurNDManager extends BaseNDManager {
    private static final FulgurNDManager SYSTEM = new SystemManager();

    FulgurNDManager(NDManager parent, Device device) {
        super(parent, device);
    }

    /** The root of every Fulgur manager. */
    public static FulgurNDManager getSystemManager() {
        return SYSTEM;
    }

    /** This manager's device in Fulgur's terms. */
    ai.fulgur.ops.Device fulgurDevice() {
        return DjlTypes.device(getDevice());
    }

    @Override
    public ByteBuffer allocateDirect(int capacity) {
        return ByteBuffer.allocateDirect(capacity).order(ByteOrder.nativeOrder());
    }

    /** Our array as is; another engine's array copied in through its bytes (not differentiable across engines). */
    @Override
    public NDArray from(NDArray array) {
        if (array == null || array instanceof FulgurNDArray) {
            return array;
        }
        NDArray result = create(array.toByteBuffer(), array.getShape(), array.getDataType());
        result.setName(array.getName());
        return result;
    }

    @Override
    public NDManager newSubManager(Device device) {
        FulgurNDManager child = new FulgurNDManager(this, device);
        attachUncappedInternal(child.uid, child);
        return child;
    }

    @Override
    public Engine getEngine() {
        return FulgurEngine.getInstance();
    }

    /** Wraps a tensor as an array of this manager. */
    FulgurNDArray wrap(Tensor t) {
        return new FulgurNDArray(this, Variable.constant(t));
    }

    // -----------------------------------------------------------------------------------------------------------------
    // creation

    @Override
    public NDArray create(Buffer data, Shape shape, DataType dataType) {
        Tensor host = DjlTypes.fromBuffer(data, DjlTypes.shape(shape), DjlTypes.dtype(dataType));
        return wrap(host.to(fulgurDevice()));
    }

    @Override
    public NDArray create(Shape shape, DataType dataType) {
        return zeros(shape, dataType);
    }

    @Override
    public NDArray create(String[] data, Charset charset, Shape shape) {
        throw new UnsupportedOperationException("string arrays are not supported by the " + FulgurEngine.ENGINE_NAME
                + " engine");
    }

    @Override
    public NDArray zeros(Shape shape, DataType dataType) {
        return wrap(Tensor.zeros(DjlTypes.shape(shape), DjlTypes.dtype(dataType), fulgurDevice()));
    }

    @Override
    public NDArray ones(Shape shape, DataType dataType) {
        return full(shape, 1, dataType);
    }

    @Override
    public NDArray full(Shape shape, float value, DataType dataType) {
        return wrap(Elementwise.full(DjlTypes.shape(shape), value, DjlTypes.dtype(dataType), fulgurDevice()));
    }

    @Override
    public NDArray arange(float start, float stop, float step, DataType dataType) {
        if (step == 0 || Float.isNaN(start) || Float.isNaN(stop) || Float.isNaN(step)) {
            throw new IllegalArgumentException("arange(" + start + ", " + stop + ", " + step + "): step must be non-zero"
                    + " and bounds finite");
        }
        int n = (int) Math.max(0, Math.ceil((stop - start) / (double) step));
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = start + (double) i * step;
        }
        return wrap(Tensor.of(v, n).cast(DjlTypes.dtype(dataType)).to(fulgurDevice()));
    }

    @Override
    public NDArray eye(int rows, int cols, int k, DataType dataType) {
        double[] v = new double[rows * cols];
        for (int i = 0; i < rows; i++) {
            int j = i + k;
            if (j >= 0 && j < cols) {
                v[i * cols + j] = 1;
            }
        }
        return wrap(Tensor.of(v, rows, cols).cast(DjlTypes.dtype(dataType)).to(fulgurDevice()));
    }

    @Override
    public NDArray linspace(float start, float stop, int num, boolean endpoint) {
        if (num < 0) {
            throw new IllegalArgumentException("linspace: num must be >= 0, got " + num);
        }
        double[] v = new double[num];
        double div = endpoint ? num - 1 : num;
        double step = div > 0 ? (stop - (double) start) / div : 0;
        for (int i = 0; i < num; i++) {
            v[i] = start + i * step;
        }
        return wrap(Tensor.of(v, num).cast(DType.F32).to(fulgurDevice()));
    }

    @Override
    public NDArray randomUniform(float low, float high, Shape shape, DataType dataType) {
        ai.fulgur.ops.Shape s = DjlTypes.shape(shape);
        FulgurEngine e = FulgurEngine.getInstance();
        return wrap(Rng.uniform(s, DjlTypes.dtype(dataType), fulgurDevice(), e.seed(),
                e.nextRandomOffset(s.numel()), low, high));
    }

    @Override
    public NDArray randomNormal(float loc, float scale, Shape shape, DataType dataType) {
        ai.fulgur.ops.Shape s = DjlTypes.shape(shape);
        FulgurEngine e = FulgurEngine.getInstance();
        return wrap(Rng.normal(s, DjlTypes.dtype(dataType), fulgurDevice(), e.seed(),
                e.nextRandomOffset(s.numel()), loc, scale));
    }

    @Override
    public NDArray randomInteger(long low, long high, Shape shape, DataType dataType) {
        if (high <= low) {
            throw new IllegalArgumentException("randomInteger: high " + high + " must exceed low " + low);
        }
        ai.fulgur.ops.Shape s = DjlTypes.shape(shape);
        FulgurEngine e = FulgurEngine.getInstance();
        Tensor u = Rng.uniform(s, DType.F64, ai.fulgur.ops.Device.CPU, e.seed(), e.nextRandomOffset(s.numel()), 0, 1);
        double[] v = u.toDoubleArray();
        long[] out = new long[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = Math.min(high - 1, low + (long) Math.floor(v[i] * (high - low)));
        }
        return wrap(Tensor.of(out, s.dims()).cast(DjlTypes.dtype(dataType)).to(fulgurDevice()));
    }

    @Override
    public NDArray randomPermutation(long n) {
        FulgurEngine e = FulgurEngine.getInstance();
        long[] perm = new long[Math.toIntExact(n)];
        for (int i = 0; i < perm.length; i++) {
            perm[i] = i;
        }
        // Fisher–Yates driven by the engine's Philox stream, so a seeded run permutes the same way
        Tensor u = Rng.uniform(ai.fulgur.ops.Shape.of(n), DType.F64, ai.fulgur.ops.Device.CPU, e.seed(),
                e.nextRandomOffset(n), 0, 1);
        double[] r = u.toDoubleArray();
        for (int i = perm.length - 1; i > 0; i--) {
            int j = (int) Math.min(i, Math.floor(r[i] * (i + 1)));
            long t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return wrap(Tensor.of(perm, n).to(fulgurDevice()));
    }

    @Override
    public NDList load(Path path) {
        throw new UnsupportedOperationException("NDManager.load(" + path + ") is not supported by the "
                + FulgurEngine.ENGINE_NAME + " engine; load parameters with Model.load or Fulgur's safetensors reader");
    }

    @Override
    public void invoke(String operation, NDArray[] src, NDArray[] dest, PairList<String, ?> params) {
        throw new UnsupportedOperationException("NDManager.invoke(\"" + operation + "\") is not supported by the "
                + FulgurEngine.ENGINE_NAME + " engine");
    }

    @Override
    public NDList invoke(String operation, NDList src, PairList<String, ?> params) {
        throw new UnsupportedOperationException("NDManager.invoke(\"" + operation + "\") is not supported by the "
                + FulgurEngine.ENGINE_NAME + " engine");
    }

    /** The root manager: never closed, so arrays detached from their manager live on here. */
    private static final class SystemManager extends FulgurNDManager implements SystemNDManager {
        SystemManager() {
            super(null, FulgurEngine.getInstance().defaultDevice());
        }

        @Override
        public void attachInternal(String resourceId, AutoCloseable... resources) {}

        @Override
        public void detachInternal(String resourceId) {}

        @Override
        public void close() {}
    }
}
