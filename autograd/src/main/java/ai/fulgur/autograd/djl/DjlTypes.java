package ai.fulgur.autograd.djl;

import ai.djl.ndarray.types.DataType;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.cpu.CpuStorage;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;

/** Conversions between DJL's types (DataType, Device, Shape, NIO buffers) and Fulgur's. */
final class DjlTypes {
    private DjlTypes() {}

    static DType dtype(DataType t) {
        return switch (t) {
            case FLOAT32 -> DType.F32;
            case FLOAT64 -> DType.F64;
            case FLOAT16 -> DType.F16;
            case BFLOAT16 -> DType.BF16;
            case INT64 -> DType.I64;
            case INT32 -> DType.I32;
            case INT8 -> DType.I8;
            case UINT8 -> DType.U8;
            case BOOLEAN -> DType.BOOL;
            default -> throw new UnsupportedOperationException("data type " + t + " is not supported by the "
                    + FulgurEngine.ENGINE_NAME + " engine (supported: FLOAT32, FLOAT64, FLOAT16, BFLOAT16, INT64, "
                    + "INT32, INT8, UINT8, BOOLEAN)");
        };
    }

    static DataType dataType(DType t) {
        return switch (t) {
            case F32 -> DataType.FLOAT32;
            case F64 -> DataType.FLOAT64;
            case F16 -> DataType.FLOAT16;
            case BF16 -> DataType.BFLOAT16;
            case I64 -> DataType.INT64;
            case I32 -> DataType.INT32;
            case I8 -> DataType.INT8;
            case U8 -> DataType.UINT8;
            case BOOL -> DataType.BOOLEAN;
        };
    }

    static Device device(ai.djl.Device d) {
        if (d == null || ai.djl.Device.Type.CPU.equals(d.getDeviceType())) {
            return Device.CPU;
        }
        if (d.isGpu()) {
            return Device.cuda(Math.max(0, d.getDeviceId())); // DJL's Device.gpu() without a number is id -1
        }
        throw new UnsupportedOperationException("device " + d + " is not supported by the " + FulgurEngine.ENGINE_NAME
                + " engine (cpu or gpu(N))");
    }

    static ai.djl.Device djlDevice(Device d) {
        return d.isCpu() ? ai.djl.Device.cpu() : ai.djl.Device.gpu(d.index());
    }

    static Shape shape(ai.djl.ndarray.types.Shape s) {
        return Shape.of(s.getShape());
    }

    static ai.djl.ndarray.types.Shape djlShape(Shape s) {
        return new ai.djl.ndarray.types.Shape(s.dims());
    }

    /**
     * A host tensor holding the elements of {@code data} from its position (the buffer is not consumed). A ByteBuffer
     * is read in its own byte order; typed buffers must match the data type's width.
     */
    static Tensor fromBuffer(Buffer data, Shape shape, DType dtype) {
        int n = Math.toIntExact(shape.numel());
        if (data.remaining() < n) {
            throw new IllegalArgumentException("buffer holds " + data.remaining() + " elements but shape " + shape
                    + " needs " + n);
        }
        CpuStorage s = CpuStorage.allocate(dtype, n);
        Buffer b = data.duplicate();
        if (data instanceof ByteBuffer bb) {
            ByteBuffer src = ((ByteBuffer) b).order(bb.order());
            if (src.remaining() < (long) n * dtype.byteSize()) {
                throw new IllegalArgumentException("byte buffer holds " + src.remaining() + " bytes but shape " + shape
                        + " of " + dtype + " needs " + (long) n * dtype.byteSize());
            }
            switch (dtype) {
                case F32 -> src.asFloatBuffer().get(s.f32(), 0, n);
                case F64 -> src.asDoubleBuffer().get(s.f64(), 0, n);
                case I64 -> src.asLongBuffer().get(s.i64(), 0, n);
                case I32 -> src.asIntBuffer().get(s.i32(), 0, n);
                case BF16, F16 -> src.asShortBuffer().get((short[]) s.array(), 0, n);
                case I8, U8 -> src.get((byte[]) s.array(), 0, n);
                case BOOL -> {
                    for (int i = 0; i < n; i++) {
                        s.setLong(i, src.get() != 0 ? 1 : 0);
                    }
                }
            }
        } else if (b instanceof FloatBuffer fb) {
            for (int i = 0; i < n; i++) {
                s.set(i, fb.get());
            }
        } else if (b instanceof DoubleBuffer db) {
            for (int i = 0; i < n; i++) {
                s.set(i, db.get());
            }
        } else if (b instanceof IntBuffer ib) {
            for (int i = 0; i < n; i++) {
                s.setLong(i, ib.get());
            }
        } else if (b instanceof LongBuffer lb) {
            for (int i = 0; i < n; i++) {
                s.setLong(i, lb.get());
            }
        } else if (b instanceof ShortBuffer sb && dtype.isHalf()) {
            sb.get((short[]) s.array(), 0, n);
        } else {
            throw new IllegalArgumentException("cannot read " + dtype + " from a " + data.getClass().getSimpleName());
        }
        return new Tensor(s, shape);
    }

    /** The elements of {@code t} as a new direct buffer in native byte order, position 0. */
    static ByteBuffer toBuffer(Tensor t) {
        Tensor h = t.to(Device.CPU).contiguous();
        int n = Math.toIntExact(h.numel());
        int off = Math.toIntExact(h.offset());
        ByteBuffer out = ByteBuffer.allocateDirect(n * t.dtype().byteSize()).order(ByteOrder.nativeOrder());
        CpuStorage s = h.cpu();
        switch (t.dtype()) {
            case F32 -> out.asFloatBuffer().put(s.f32(), off, n);
            case F64 -> out.asDoubleBuffer().put(s.f64(), off, n);
            case I64 -> out.asLongBuffer().put(s.i64(), off, n);
            case I32 -> out.asIntBuffer().put(s.i32(), off, n);
            case BF16, F16 -> out.asShortBuffer().put((short[]) s.array(), off, n);
            case I8, U8, BOOL -> out.put((byte[]) s.array(), off, n);
        }
        out.rewind();
        return out;
    }
}
