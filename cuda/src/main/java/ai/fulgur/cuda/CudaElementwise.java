package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.BinaryOp;
import ai.fulgur.ops.elementwise.ElementwiseKernels;
import ai.fulgur.ops.elementwise.UnaryOp;

/**
 * Element-wise kernels on the GPU (elementwise.cu). The compute type follows the CPU kernels: int64 when the inputs
 * and result are integers, double when an F64 operand takes part, float otherwise (F32, BF16 and F16 values are
 * widened to float, computed, and rounded to nearest-even on store).
 */
final class CudaElementwise implements ElementwiseKernels {
    private static final String MODULE = "elementwise";
    private static final int THREADS = 256;

    private static String suffix(boolean integerMath, DType... types) {
        if (integerMath) {
            return "i64";
        }
        for (DType t : types) {
            if (t == DType.F64) {
                return "f64";
            }
        }
        return "f32";
    }

    private static boolean integral(DType t) {
        return !t.isFloating();
    }

    @Override
    public void unary(UnaryOp op, double s, Tensor out, Tensor x) {
        boolean longMath = integral(x.dtype()) && (integral(out.dtype()) || op.isComparison()) && s == Math.rint(s);
        CudaDevice d = CudaTensors.device(out);
        if (KernelProfiler.wantsDetail()) {
            KernelProfiler.detail(op + " " + shape(out, x));
        }
        d.launch(MODULE, "unary_" + suffix(longMath, out.dtype(), x.dtype()),
                CudaTensors.blocksFor(d, out.numel(), THREADS), THREADS, 0,
                StridedLayout.of(out.shape(), out, x), op.ordinal(), s, CudaTensors.base(out),
                out.dtype().ordinal(), CudaTensors.base(x), x.dtype().ordinal());
    }

    @Override
    public void binary(BinaryOp op, Tensor out, Tensor a, Tensor b) {
        boolean longMath = integral(a.dtype()) && integral(b.dtype()) && op != BinaryOp.DIV;
        CudaDevice d = CudaTensors.device(out);
        if (KernelProfiler.wantsDetail()) {
            KernelProfiler.detail(op + " " + shape(out, a, b));
        }
        if (CONTIGUOUS_FAST_PATHS && (op == BinaryOp.ADD || op == BinaryOp.SUB || op == BinaryOp.MUL)
                && vectorizable(out, out, a, b)) {
            String name = "binary_contiguous_" + typeName(out) + "_" + typeName(a) + "_" + typeName(b);
            if (BINARY_CONTIGUOUS.contains(name)) {
                d.launch(MODULE, name, CudaTensors.blocksFor(d, Math.max(1, out.numel() / 4), THREADS), THREADS, 0,
                        op.ordinal(), CudaTensors.first(out), CudaTensors.first(a), CudaTensors.first(b),
                        out.numel());
                return;
            }
        }
        d.launch(MODULE, "binary_" + suffix(longMath, out.dtype(), a.dtype(), b.dtype()),
                CudaTensors.blocksFor(d, out.numel(), THREADS), THREADS, 0,
                StridedLayout.of(out.shape(), out, a, b), op.ordinal(), CudaTensors.base(out), out.dtype().ordinal(),
                CudaTensors.base(a), a.dtype().ordinal(), CudaTensors.base(b), b.dtype().ordinal());
    }

    @Override
    public void where(Tensor out, Tensor cond, Tensor a, Tensor b) {
        CudaDevice d = CudaTensors.device(out);
        d.launch(MODULE, "where_" + suffix(integral(out.dtype()), out.dtype()),
                CudaTensors.blocksFor(d, out.numel(), THREADS), THREADS, 0,
                StridedLayout.of(out.shape(), out, cond, a, b), CudaTensors.base(out), out.dtype().ordinal(),
                CudaTensors.base(cond), cond.dtype().ordinal(), CudaTensors.base(a), a.dtype().ordinal(),
                CudaTensors.base(b), b.dtype().ordinal());
    }

    /**
     * Whether the contiguous kernels (elementwise.cu's fast paths: compile-time types, four elements per vector load)
     * run the F32/BF16 casts and ADD/SUB/MUL of contiguous operands; {@code -Dfulgur.cuda.contiguousFastPaths=false}
     * sends them to the generic strided kernels, as before (for before/after benchmarks).
     */
    private static final boolean CONTIGUOUS_FAST_PATHS =
            !"false".equals(System.getProperty("fulgur.cuda.contiguousFastPaths"));

    /** The instantiated binary_contiguous_OUT_A_B kernels. */
    private static final java.util.Set<String> BINARY_CONTIGUOUS = java.util.Set.of("binary_contiguous_f32_f32_f32",
            "binary_contiguous_f32_f32_bf16", "binary_contiguous_f32_bf16_f32", "binary_contiguous_bf16_bf16_bf16");

    /**
     * Whether every operand is contiguous, has {@code out}'s element count, is F32 or BF16, and starts on a multiple
     * of four elements (so one vector load reads four).
     */
    private static boolean vectorizable(Tensor out, Tensor... operands) {
        for (Tensor t : operands) {
            if ((t.dtype() != DType.F32 && t.dtype() != DType.BF16) || !t.isContiguous() || t.numel() != out.numel()
                    || CudaTensors.first(t) % (4L * t.dtype().byteSize()) != 0) {
                return false;
            }
        }
        return true;
    }

    private static String typeName(Tensor t) {
        return t.dtype() == DType.F32 ? "f32" : "bf16";
    }

    /**
     * Whether same-dtype copies between row-pitched layouts use the driver's 2-D copy ({@link #copyPitched}): on by
     * default, {@code -Dfulgur.cuda.pitchedCopies=false} turns it off (settable for tests). The kernel profile of the
     * GPT-2 124M bf16 step (B 8, H200) showed the generic copy kernel spending 3.3 ms on each of the three copies into
     * and out of the padded vocabulary buffers, about 9.8 ms a step; with the 2-D copy the step went from 45.2 to
     * 32.6 ms eager and from 34.1 to 26.3 ms replayed as a CUDA graph (docs/PERF.md).
     */
    static volatile boolean pitchedCopies = !"false".equals(System.getProperty("fulgur.cuda.pitchedCopies"));

    /** Rows narrower than this go to the copy kernel: the 2-D copy is meant for wide rows (logits, column slices). */
    private static final long PITCHED_MIN_ROW_BYTES = 1024;

    /**
     * A same-dtype copy between two row-pitched layouts (rows of the last dimension, a uniform stride between rows: a
     * column slice, or the corner of a padded buffer) as one driver 2-D copy, which runs near copy bandwidth where the
     * generic strided kernel reached about 0.5 TB/s (3.3 ms for GPT-2's 8192 × 50257 bf16 logits on an H200). Returns
     * false, doing nothing, for other layouts, narrow rows, or unless {@link #pitchedCopies}.
     */
    private static boolean copyPitched(CudaDevice d, Tensor dst, Tensor src) {
        if (!pitchedCopies || !CONTIGUOUS_FAST_PATHS || !dst.shape().equals(src.shape())) {
            return false;
        }
        long[] to = rowsAndPitch(dst);
        long[] from = rowsAndPitch(src);
        long width = dst.shape().last() * dst.dtype().byteSize();
        if (to == null || from == null || width < PITCHED_MIN_ROW_BYTES) {
            return false;
        }
        long bytes = dst.dtype().byteSize();
        jcuda.driver.CUDA_MEMCPY2D copy = new jcuda.driver.CUDA_MEMCPY2D();
        copy.srcMemoryType = jcuda.driver.CUmemorytype.CU_MEMORYTYPE_DEVICE;
        copy.srcDevice = CudaTensors.storage(src).pointer(src.offset());
        copy.srcPitch = from[1] * bytes;
        copy.dstMemoryType = jcuda.driver.CUmemorytype.CU_MEMORYTYPE_DEVICE;
        copy.dstDevice = CudaTensors.storage(dst).pointer(dst.offset());
        copy.dstPitch = to[1] * bytes;
        copy.WidthInBytes = width;
        copy.Height = to[0];
        d.enter();
        boolean profiled = KernelProfiler.active;
        if (profiled) {
            if (KernelProfiler.wantsDetail()) {
                KernelProfiler.detail(shape(dst, src));
            }
            KernelProfiler.before(d, "memcpy2D DtoD");
        }
        jcuda.driver.JCudaDriver.cuMemcpy2DAsync(copy, d.stream());
        if (profiled) {
            KernelProfiler.after(d);
        }
        return true;
    }

    /**
     * {rows, row stride in elements} when {@code t}'s elements are rows of its last dimension (stride 1) at one stride
     * from row to row, every other dimension nesting in the next (dimensions of size 1 ignored); else null.
     */
    static long[] rowsAndPitch(Tensor t) {
        int rank = t.rank();
        if (rank == 0 || t.numel() == 0) {
            return null;
        }
        long cols = t.shape().last();
        if (cols < 2 || t.stride(rank - 1) != 1) {
            return null;
        }
        long pitch = -1;
        long next = -1; // the stride the next outer dimension must have
        for (int dim = rank - 2; dim >= 0; dim--) {
            long size = t.shape().dim(dim);
            if (size == 1) {
                continue;
            }
            if (pitch < 0) {
                pitch = t.stride(dim);
            } else if (t.stride(dim) != next) {
                return null;
            }
            next = t.stride(dim) * size;
        }
        if (pitch < 0) {
            pitch = cols; // one row
        }
        return pitch < cols ? null : new long[] {t.numel() / cols, pitch};
    }

    /** For {@link KernelProfiler}'s rows: "bf16<-f32 n=6291456", a * marking a non-contiguous operand. */
    private static String shape(Tensor out, Tensor... in) {
        StringBuilder b = new StringBuilder(out.dtype().name().toLowerCase(java.util.Locale.ROOT));
        b.append(out.isContiguous() ? "" : "*");
        for (int i = 0; i < in.length; i++) {
            b.append(i == 0 ? "<-" : ",").append(in[i].dtype().name().toLowerCase(java.util.Locale.ROOT))
                    .append(in[i].isContiguous() ? "" : "*");
            if (in[i].numel() != out.numel()) {
                b.append("(n=").append(in[i].numel()).append(")");
            }
        }
        return b.append(" n=").append(out.numel()).toString();
    }

    @Override
    public void copy(Tensor dst, Tensor src) {
        boolean longMath = integral(dst.dtype()) && integral(src.dtype());
        CudaDevice d = CudaTensors.device(dst);
        if (dst.dtype() == src.dtype() && dst.isContiguous() && src.isContiguous()) {
            d.enter();
            boolean profiled = KernelProfiler.active;
            if (profiled) {
                if (KernelProfiler.wantsDetail()) {
                    KernelProfiler.detail(shape(dst, src));
                }
                KernelProfiler.before(d, "memcpy DtoD");
            }
            jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync(CudaTensors.storage(dst).pointer(dst.offset()),
                    CudaTensors.storage(src).pointer(src.offset()), dst.numel() * dst.dtype().byteSize(), d.stream());
            if (profiled) {
                KernelProfiler.after(d);
            }
            return;
        }
        if (dst.dtype() == src.dtype() && copyPitched(d, dst, src)) {
            return;
        }
        if (KernelProfiler.wantsDetail()) {
            KernelProfiler.detail(shape(dst, src));
        }
        if (CONTIGUOUS_FAST_PATHS && vectorizable(dst, dst, src) && ((dst.dtype() == DType.F32
                && src.dtype() == DType.BF16) || (dst.dtype() == DType.BF16 && src.dtype() == DType.F32))) {
            d.launch(MODULE, "cast_contiguous_" + typeName(dst) + "_" + typeName(src),
                    CudaTensors.blocksFor(d, Math.max(1, dst.numel() / 4), THREADS), THREADS, 0,
                    CudaTensors.first(dst), CudaTensors.first(src), dst.numel());
            return;
        }
        d.launch(MODULE, "copy_" + suffix(longMath, dst.dtype(), src.dtype()),
                CudaTensors.blocksFor(d, dst.numel(), THREADS), THREADS, 0,
                StridedLayout.of(dst.shape(), dst, src), CudaTensors.base(dst), dst.dtype().ordinal(),
                CudaTensors.base(src), src.dtype().ordinal());
    }

    @Override
    public void fill(Tensor dst, double value) {
        CudaDevice d = CudaTensors.device(dst);
        boolean longMath = integral(dst.dtype()) && value == Math.rint(value);
        if (KernelProfiler.wantsDetail()) {
            KernelProfiler.detail(shape(dst));
        }
        d.launch(MODULE, longMath ? "fill_i64" : "fill_f64", CudaTensors.blocksFor(d, dst.numel(), THREADS), THREADS,
                0, StridedLayout.of(dst.shape(), dst), CudaTensors.base(dst), dst.dtype().ordinal(),
                longMath ? (Object) (long) value : (Object) value);
    }
}
