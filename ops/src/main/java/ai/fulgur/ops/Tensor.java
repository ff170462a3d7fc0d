package ai.fulgur.ops;

import ai.fulgur.ops.cpu.CpuStorage;
import java.util.Arrays;

/**
 * A strided view of a {@link Storage}: shape, strides and offset in elements. Views (reshape of a contiguous tensor,
 * permute, transpose, slice, select, expand) share the storage; everything that computes goes through a kernel
 * family's facade ({@code Elementwise}, {@code Linalg}, ...). Tensors here carry no gradient: that is {@code
 * ai.fulgur.autograd}'s job.
 */
public final class Tensor {
    private final Storage storage;
    private final Shape shape;
    private final long[] strides;
    private final long offset;

    /** A view of {@code storage}; the caller guarantees every addressed element lies inside it. */
    public Tensor(Storage storage, Shape shape, long[] strides, long offset) {
        if (strides.length != shape.rank()) {
            throw new IllegalArgumentException("strides " + Arrays.toString(strides) + " do not match shape " + shape);
        }
        this.storage = storage;
        this.shape = shape;
        this.strides = strides.clone();
        this.offset = offset;
    }

    /** A contiguous tensor over the whole of {@code storage}. */
    public Tensor(Storage storage, Shape shape) {
        this(storage, shape, shape.contiguousStrides(), 0);
        if (shape.numel() != storage.length()) {
            throw new IllegalArgumentException("shape " + shape + " holds " + shape.numel() + " elements but the storage has "
                    + storage.length());
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // creation

    /** A zero-filled tensor. */
    public static Tensor zeros(Shape shape, DType dtype, Device device) {
        return new Tensor(Backends.of(device).allocate(device, dtype, shape.numel()), shape);
    }

    /**
     * A tensor whose elements are unspecified (zeros on the CPU, whatever the memory held on CUDA): for outputs that
     * are written in full before they are read.
     */
    public static Tensor empty(Shape shape, DType dtype, Device device) {
        return new Tensor(Backends.of(device).allocateUninitialized(device, dtype, shape.numel()), shape);
    }

    /** A host F32 tensor over (not copying) {@code data}. */
    public static Tensor of(float[] data, long... shape) {
        return new Tensor(CpuStorage.wrap(data), checkCount(data.length, shape));
    }

    /** A host F64 tensor over (not copying) {@code data}. */
    public static Tensor of(double[] data, long... shape) {
        return new Tensor(CpuStorage.wrap(data), checkCount(data.length, shape));
    }

    /** A host I64 tensor over (not copying) {@code data}. */
    public static Tensor of(long[] data, long... shape) {
        return new Tensor(CpuStorage.wrap(data), checkCount(data.length, shape));
    }

    /** A host I32 tensor over (not copying) {@code data}. */
    public static Tensor of(int[] data, long... shape) {
        return new Tensor(CpuStorage.wrap(data), checkCount(data.length, shape));
    }

    /** A rank-0 tensor holding {@code value}. */
    public static Tensor scalar(double value, DType dtype, Device device) {
        CpuStorage s = CpuStorage.allocate(dtype, 1);
        s.set(0, value);
        Tensor host = new Tensor(s, Shape.scalar());
        return device.isCpu() ? host : host.to(device);
    }

    private static Shape checkCount(int length, long[] dims) {
        Shape shape = Shape.of(dims);
        if (shape.numel() != length) {
            throw new IllegalArgumentException("shape " + shape + " holds " + shape.numel() + " elements but the array has "
                    + length);
        }
        return shape;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // metadata

    public Storage storage() {
        return storage;
    }

    public Shape shape() {
        return shape;
    }

    public DType dtype() {
        return storage.dtype();
    }

    public Device device() {
        return storage.device();
    }

    public long[] strides() {
        return strides.clone();
    }

    public long stride(int axis) {
        return strides[shape.axis(axis)];
    }

    public long offset() {
        return offset;
    }

    public int rank() {
        return shape.rank();
    }

    public long numel() {
        return shape.numel();
    }

    /** True if the elements lie in row-major order without gaps, starting at {@link #offset()}. */
    public boolean isContiguous() {
        long expected = 1;
        for (int i = shape.rank() - 1; i >= 0; i--) {
            long d = shape.dim(i);
            if (d != 1 && strides[i] != expected) {
                return false;
            }
            expected *= d;
        }
        return true;
    }

    /** The host storage, for CPU kernels; fails on a device tensor. */
    public CpuStorage cpu() {
        if (storage instanceof CpuStorage c) {
            return c;
        }
        throw new IllegalStateException("tensor is on " + device() + ", not the CPU");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // views

    /** The same elements in a new shape (one size may be -1); a view when contiguous, else a contiguous copy. */
    public Tensor reshape(long... dims) {
        Shape target = shape.reshapeTarget(dims);
        Tensor c = contiguous();
        return new Tensor(c.storage, target, target.contiguousStrides(), c.offset);
    }

    /** Reshape to {@code target}. */
    public Tensor reshape(Shape target) {
        return reshape(target.dims());
    }

    /** Reorders the axes: result axis i is this tensor's axis {@code order[i]}. */
    public Tensor permute(int... order) {
        if (order.length != rank()) {
            throw new IllegalArgumentException("permute of shape " + shape + " needs " + rank() + " axes, got "
                    + Arrays.toString(order));
        }
        long[] dims = new long[order.length];
        long[] st = new long[order.length];
        boolean[] seen = new boolean[order.length];
        for (int i = 0; i < order.length; i++) {
            int a = shape.axis(order[i]);
            if (seen[a]) {
                throw new IllegalArgumentException("permute of shape " + shape + ": axis " + order[i] + " repeats in "
                        + Arrays.toString(order));
            }
            seen[a] = true;
            dims[i] = shape.dim(a);
            st[i] = strides[a];
        }
        return new Tensor(storage, Shape.of(dims), st, offset);
    }

    /** Swaps two axes. */
    public Tensor transpose(int axis0, int axis1) {
        int[] order = new int[rank()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        int a = shape.axis(axis0);
        int b = shape.axis(axis1);
        order[a] = b;
        order[b] = a;
        return permute(order);
    }

    /** Elements {@code start, start+step, ...} below {@code end} along {@code axis}; Python-style negative bounds. */
    public Tensor slice(int axis, long start, long end, long step) {
        int a = shape.axis(axis);
        long n = shape.dim(a);
        if (step <= 0) {
            throw new IllegalArgumentException("slice step must be positive, got " + step);
        }
        long s = clampIndex(start, n);
        long e = clampIndex(end, n);
        long len = e > s ? (e - s + step - 1) / step : 0;
        long[] st = strides.clone();
        st[a] = strides[a] * step;
        return new Tensor(storage, shape.with(a, len), st, offset + (len > 0 ? s * strides[a] : 0));
    }

    /** Elements {@code [start, end)} along {@code axis}. */
    public Tensor slice(int axis, long start, long end) {
        return slice(axis, start, end, 1);
    }

    private static long clampIndex(long i, long n) {
        long j = i < 0 ? i + n : i;
        return Math.max(0, Math.min(n, j));
    }

    /** The sub-tensor at {@code index} along {@code axis}, with that axis removed. */
    public Tensor select(int axis, long index) {
        int a = shape.axis(axis);
        long n = shape.dim(a);
        long i = index < 0 ? index + n : index;
        if (i < 0 || i >= n) {
            throw new IndexOutOfBoundsException("index " + index + " is out of bounds for axis " + axis + " of size " + n
                    + " (shape " + shape + ")");
        }
        long[] st = new long[rank() - 1];
        for (int k = 0, j = 0; k < rank(); k++) {
            if (k != a) {
                st[j++] = strides[k];
            }
        }
        return new Tensor(storage, shape.without(a), st, offset + i * strides[a]);
    }

    /** A view with a new axis of size 1 at {@code axis} (which may equal the rank). */
    public Tensor unsqueeze(int axis) {
        int a = axis < 0 ? axis + rank() + 1 : axis;
        if (a < 0 || a > rank()) {
            throw new IllegalArgumentException("unsqueeze axis " + axis + " out of range for shape " + shape);
        }
        long[] dims = new long[rank() + 1];
        long[] st = new long[rank() + 1];
        for (int i = 0, j = 0; i <= rank(); i++) {
            if (i == a) {
                dims[i] = 1;
                st[i] = 0;
            } else {
                dims[i] = shape.dim(j);
                st[i] = strides[j];
                j++;
            }
        }
        return new Tensor(storage, Shape.of(dims), st, offset);
    }

    /** A view without axis {@code axis}, which must have size 1. */
    public Tensor squeeze(int axis) {
        int a = shape.axis(axis);
        if (shape.dim(a) != 1) {
            throw new IllegalArgumentException("squeeze axis " + axis + " of shape " + shape + ": size is "
                    + shape.dim(a) + ", expected 1");
        }
        return select(a, 0);
    }

    /**
     * A broadcast view with shape {@code target}: axes of size 1 (and missing leading axes) repeat with stride 0.
     */
    public Tensor expand(Shape target) {
        if (target.equals(shape)) {
            return this;
        }
        int lead = target.rank() - rank();
        if (lead < 0) {
            throw new IllegalArgumentException("cannot expand shape " + shape + " to the lower-rank shape " + target);
        }
        long[] st = new long[target.rank()];
        for (int i = 0; i < rank(); i++) {
            long d = shape.dim(i);
            long t = target.dim(lead + i);
            if (d == t) {
                st[lead + i] = strides[i];
            } else if (d == 1) {
                st[lead + i] = 0;
            } else {
                throw new IllegalArgumentException("cannot expand shape " + shape + " to " + target + ": dimension " + i
                        + " is " + d + ", expected " + t + " or 1");
            }
        }
        return new Tensor(storage, target, st, offset);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // copies

    /** This tensor if contiguous, else a contiguous copy. */
    public Tensor contiguous() {
        return isContiguous() ? this : copy();
    }

    /** A contiguous copy on the same device. */
    public Tensor copy() {
        Tensor out = empty(shape, dtype(), device());
        Backends.of(this).elementwise().copy(out, this);
        return out;
    }

    /** A contiguous copy converted to {@code dtype}, or this tensor if it already has it. */
    public Tensor cast(DType dtype) {
        if (dtype == dtype()) {
            return this;
        }
        Tensor out = empty(shape, dtype, device());
        Backends.of(this).elementwise().copy(out, this);
        return out;
    }

    /** A copy on {@code device}, or this tensor if it is already there. */
    public Tensor to(Device device) {
        if (device.equals(device())) {
            return this;
        }
        Tensor src = contiguous();
        Storage moved;
        if (device.isCpu()) {
            moved = Backends.of(src).download(exactStorage(src));
        } else {
            CpuStorage host = device().isCpu() ? (CpuStorage) exactStorage(src)
                    : Backends.of(src).download(exactStorage(src));
            moved = Backends.of(device).upload(host, device);
        }
        return new Tensor(moved, shape);
    }

    /** A storage holding exactly the elements of a contiguous tensor (the storage itself when it matches). */
    private static Storage exactStorage(Tensor contiguous) {
        if (contiguous.offset == 0 && contiguous.storage.length() == contiguous.numel()) {
            return contiguous.storage;
        }
        Tensor c = contiguous.copy();
        return c.storage;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // host access (copies; for tests, I/O and small values)

    /** All elements in row-major order as doubles. */
    public double[] toDoubleArray() {
        Tensor h = to(Device.CPU).contiguous();
        double[] out = new double[Math.toIntExact(numel())];
        CpuStorage s = h.cpu();
        int base = Math.toIntExact(h.offset);
        for (int i = 0; i < out.length; i++) {
            out[i] = s.get(base + i);
        }
        return out;
    }

    /** All elements in row-major order as floats. */
    public float[] toFloatArray() {
        double[] d = toDoubleArray();
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = (float) d[i];
        }
        return out;
    }

    /** All elements in row-major order as longs. */
    public long[] toLongArray() {
        Tensor h = to(Device.CPU).contiguous();
        long[] out = new long[Math.toIntExact(numel())];
        CpuStorage s = h.cpu();
        int base = Math.toIntExact(h.offset);
        for (int i = 0; i < out.length; i++) {
            out[i] = s.getLong(base + i);
        }
        return out;
    }

    /** The only element of a one-element tensor. */
    public double item() {
        if (numel() != 1) {
            throw new IllegalStateException("item() needs a tensor with one element, shape is " + shape);
        }
        return toDoubleArray()[0];
    }

    @Override
    public String toString() {
        return "Tensor" + shape + " " + dtype() + " " + device();
    }
}
