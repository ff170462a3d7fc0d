package ai.fulgur.ops.cpu;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Storage;

/**
 * Host storage: a Java array of the dtype's natural carrier ({@code float[]} for F32, {@code short[]} for BF16 and F16,
 * {@code byte[]} for I8, U8 and BOOL, ...).
 *
 * <p>Kernels read and write elements through {@link #get}/{@link #set} (as doubles) or {@link #getLong}/{@link
 * #setLong} (as integers), so one loop serves every dtype; hot kernels take the array itself through {@link #f32()}
 * or {@link #f64()}. Element indices are ints: a host tensor holds fewer than 2^31 elements.
 */
public abstract sealed class CpuStorage implements Storage {
    private final DType dtype;

    private CpuStorage(DType dtype) {
        this.dtype = dtype;
    }

    /** A zero-filled storage of {@code length} elements. */
    public static CpuStorage allocate(DType dtype, long length) {
        int n;
        try {
            n = Math.toIntExact(length);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("a host tensor holds at most " + Integer.MAX_VALUE + " elements, asked for "
                    + length + " of " + dtype);
        }
        return switch (dtype) {
            case F64 -> new F64(new double[n]);
            case F32 -> new F32(new float[n]);
            case BF16 -> new BF16(new short[n]);
            case F16 -> new F16(new short[n]);
            case I64 -> new I64(new long[n]);
            case I32 -> new I32(new int[n]);
            case I8, U8, BOOL -> new Bytes(dtype, new byte[n]);
        };
    }

    /** Wraps (does not copy) a float array. */
    public static CpuStorage wrap(float[] data) {
        return new F32(data);
    }

    /** Wraps (does not copy) a double array. */
    public static CpuStorage wrap(double[] data) {
        return new F64(data);
    }

    /** Wraps (does not copy) a long array. */
    public static CpuStorage wrap(long[] data) {
        return new I64(data);
    }

    /** Wraps (does not copy) an int array. */
    public static CpuStorage wrap(int[] data) {
        return new I32(data);
    }

    /** Wraps (does not copy) a byte array as I8, U8 or BOOL. */
    public static CpuStorage wrap(byte[] data, DType dtype) {
        if (dtype != DType.I8 && dtype != DType.U8 && dtype != DType.BOOL) {
            throw new IllegalArgumentException("a byte array holds I8, U8 or BOOL, not " + dtype);
        }
        return new Bytes(dtype, data);
    }

    /** Wraps (does not copy) a short array of BF16 or F16 bits. */
    public static CpuStorage wrap(short[] bits, DType dtype) {
        return switch (dtype) {
            case BF16 -> new BF16(bits);
            case F16 -> new F16(bits);
            default -> throw new IllegalArgumentException("a short array holds BF16 or F16 bits, not " + dtype);
        };
    }

    @Override
    public final Device device() {
        return Device.CPU;
    }

    @Override
    public final DType dtype() {
        return dtype;
    }

    /** Element {@code i} as a double (integers convert exactly up to 2^53, booleans give 0 or 1). */
    public abstract double get(int i);

    /** Stores {@code v} at {@code i}, rounding to the dtype (integers truncate toward zero, booleans test != 0). */
    public abstract void set(int i, double v);

    /** Element {@code i} as a long (floats truncate toward zero). */
    public abstract long getLong(int i);

    /** Stores {@code v} at {@code i}. */
    public abstract void setLong(int i, long v);

    /** The backing array; its type depends on the dtype. */
    public abstract Object array();

    /** The backing float array of an F32 storage. */
    public float[] f32() {
        throw new IllegalStateException("storage is " + dtype + ", not F32");
    }

    /** The backing double array of an F64 storage. */
    public double[] f64() {
        throw new IllegalStateException("storage is " + dtype + ", not F64");
    }

    /** The backing long array of an I64 storage. */
    public long[] i64() {
        throw new IllegalStateException("storage is " + dtype + ", not I64");
    }

    /** The backing int array of an I32 storage. */
    public int[] i32() {
        throw new IllegalStateException("storage is " + dtype + ", not I32");
    }

    private static final class F64 extends CpuStorage {
        private final double[] a;

        F64(double[] a) {
            super(DType.F64);
            this.a = a;
        }

        @Override public long length() { return a.length; }
        @Override public double get(int i) { return a[i]; }
        @Override public void set(int i, double v) { a[i] = v; }
        @Override public long getLong(int i) { return (long) a[i]; }
        @Override public void setLong(int i, long v) { a[i] = v; }
        @Override public Object array() { return a; }
        @Override public double[] f64() { return a; }
    }

    private static final class F32 extends CpuStorage {
        private final float[] a;

        F32(float[] a) {
            super(DType.F32);
            this.a = a;
        }

        @Override public long length() { return a.length; }
        @Override public double get(int i) { return a[i]; }
        @Override public void set(int i, double v) { a[i] = (float) v; }
        @Override public long getLong(int i) { return (long) a[i]; }
        @Override public void setLong(int i, long v) { a[i] = v; }
        @Override public Object array() { return a; }
        @Override public float[] f32() { return a; }
    }

    private static final class BF16 extends CpuStorage {
        private final short[] a;

        BF16(short[] a) {
            super(DType.BF16);
            this.a = a;
        }

        @Override public long length() { return a.length; }
        @Override public double get(int i) { return HalfFloats.bf16ToFloat(a[i]); }
        @Override public void set(int i, double v) { a[i] = HalfFloats.floatToBf16((float) v); }
        @Override public long getLong(int i) { return (long) get(i); }
        @Override public void setLong(int i, long v) { set(i, v); }
        @Override public Object array() { return a; }
    }

    private static final class F16 extends CpuStorage {
        private final short[] a;

        F16(short[] a) {
            super(DType.F16);
            this.a = a;
        }

        @Override public long length() { return a.length; }
        @Override public double get(int i) { return HalfFloats.f16ToFloat(a[i]); }
        @Override public void set(int i, double v) { a[i] = HalfFloats.floatToF16((float) v); }
        @Override public long getLong(int i) { return (long) get(i); }
        @Override public void setLong(int i, long v) { set(i, v); }
        @Override public Object array() { return a; }
    }

    private static final class I64 extends CpuStorage {
        private final long[] a;

        I64(long[] a) {
            super(DType.I64);
            this.a = a;
        }

        @Override public long length() { return a.length; }
        @Override public double get(int i) { return a[i]; }
        @Override public void set(int i, double v) { a[i] = (long) v; }
        @Override public long getLong(int i) { return a[i]; }
        @Override public void setLong(int i, long v) { a[i] = v; }
        @Override public Object array() { return a; }
        @Override public long[] i64() { return a; }
    }

    private static final class I32 extends CpuStorage {
        private final int[] a;

        I32(int[] a) {
            super(DType.I32);
            this.a = a;
        }

        @Override public long length() { return a.length; }
        @Override public double get(int i) { return a[i]; }
        @Override public void set(int i, double v) { a[i] = (int) v; }
        @Override public long getLong(int i) { return a[i]; }
        @Override public void setLong(int i, long v) { a[i] = (int) v; }
        @Override public Object array() { return a; }
        @Override public int[] i32() { return a; }
    }

    /** I8 (signed), U8 (unsigned) and BOOL (0 or 1) share a byte array. */
    private static final class Bytes extends CpuStorage {
        private final byte[] a;
        private final int kind; // 0 = I8, 1 = U8, 2 = BOOL

        Bytes(DType dtype, byte[] a) {
            super(dtype);
            this.a = a;
            this.kind = dtype == DType.I8 ? 0 : dtype == DType.U8 ? 1 : 2;
        }

        @Override public long length() { return a.length; }
        @Override public double get(int i) { return getLong(i); }
        @Override public void set(int i, double v) { a[i] = kind == 2 ? (byte) (v != 0 ? 1 : 0) : (byte) (long) v; }

        @Override
        public long getLong(int i) {
            return switch (kind) {
                case 0 -> a[i];
                case 1 -> a[i] & 0xff;
                default -> a[i] != 0 ? 1 : 0;
            };
        }

        @Override public void setLong(int i, long v) { a[i] = kind == 2 ? (byte) (v != 0 ? 1 : 0) : (byte) v; }
        @Override public Object array() { return a; }
    }
}
