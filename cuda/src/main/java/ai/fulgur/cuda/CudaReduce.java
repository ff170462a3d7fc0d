package ai.fulgur.cuda;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.reduce.ReduceKernels;
import ai.fulgur.ops.reduce.ReduceOp;

/**
 * Reductions on the GPU (reduce.cu). Each output element reduces one "row" of the input:
 *
 * <ul>
 *   <li>x contiguous and the reduced axes one block (size-1 axes ignored), last: a row kernel over (rows, C), one
 *       warp per row up to {@value #WARP_ROW_LIMIT} columns, else one block per row;
 *   <li>x contiguous and the reduced axes one block in the middle or first, (outer, R, inner): a column kernel,
 *       coalesced over inner, no copy (the bias-gradient case);
 *   <li>anything else: the reduced axes are permuted last and copied contiguous (elementwise copy), then the row
 *       kernel.
 * </ul>
 *
 * <p>When there are too few rows or columns to fill the device, each is split into pieces that write F64 (floating)
 * or I64 (integer) partials, and a second launch of the same kernels reduces those: deterministic, no atomics. Floating
 * SUM, MEAN and PROD accumulate in double as {@link ai.fulgur.ops.cpu.CpuReduce} does; MAX and MIN propagate NaN;
 * integer SUM and PROD wrap in int64. argmax/argmin take the first index on ties and the first NaN.
 *
 * <p>The static helpers at the end (dtype suffixes, warp lane counts, block sizes) serve the other row-wise families,
 * {@link CudaActivation} and {@link CudaNorm}.
 */
final class CudaReduce implements ReduceKernels {
    private static final String MODULE = "reduce";
    /** Threads of every launch of this family; the column kernels need exactly 256 (32 columns × 8 warps). */
    static final int THREADS = 256;
    /** Rows of at most this many columns get a warp each (the warp kernels of softmax and layer norm hold them). */
    static final int WARP_ROW_LIMIT = 1024;
    /** A piece of a split row holds at least this many elements. */
    private static final long SPLIT_MIN_COLUMNS = 8192;
    /** A piece of a split column holds at least this many rows. */
    private static final long SPLIT_MIN_ROWS = 64;
    private static final long MAX_GRID_Y = 65535;

    // out (x's shape with the reduced axes set to 1), x (any shape and strides)
    @Override
    public void reduce(ReduceOp op, Tensor out, Tensor x, int[] axes) {
        if (out.numel() == 0) {
            return;
        }
        CudaDevice d = CudaTensors.device(out);
        Tensor target = out.isContiguous() ? out : Tensor.empty(out.shape(), out.dtype(), out.device());
        long count = 1;
        for (int a : axes) {
            count *= x.shape().dim(a);
        }
        long[] block = x.isContiguous() ? reducedBlock(x.shape(), axes) : null;
        if (count > 0 && block == null && columnsOfPitchedRows(x, axes)) {
            // a row-pitched (R, N) operand summed over its rows (the gradient of a vocabulary head's bias, from the
            // row-pitched logits gradient): the column kernel runs over the whole padded (R, P) block, whose pad columns
            // give sums nobody keeps, and the first N are copied out; no contiguous copy of the operand
            long pitch = x.stride(0);
            Tensor padded = new Tensor(x.storage(), Shape.of(x.shape().dim(0), pitch), new long[] {pitch, 1},
                    x.offset());
            Tensor sums = Tensor.empty(Shape.of(1, pitch), out.dtype(), out.device());
            cols(d, op, 1, x.shape().dim(0), pitch, CudaTensors.first(sums), out.dtype(), CudaTensors.first(padded),
                    x.dtype(), count, true);
            Backends.of(out).elementwise().copy(target, sums.slice(1, 0, x.shape().dim(1)).reshape(target.shape()));
            sums.storage().close();
        } else if (count == 0) {
            // every output is the identity (MEAN: 0/0 = NaN); the kernel reads nothing
            rows(d, op, out.numel(), 0, CudaTensors.first(target), out.dtype(), CudaTensors.first(x), x.dtype(), 0,
                    false);
        } else if (block != null && block[2] == 1) {
            rows(d, op, block[0], block[1], CudaTensors.first(target), out.dtype(), CudaTensors.first(x), x.dtype(),
                    count, true);
        } else if (block != null) {
            cols(d, op, block[0], block[1], block[2], CudaTensors.first(target), out.dtype(), CudaTensors.first(x),
                    x.dtype(), count, true);
        } else {
            Tensor moved = x.permute(reducedLast(x.rank(), axes)).contiguous();
            rows(d, op, out.numel(), count, CudaTensors.first(target), out.dtype(), CudaTensors.first(moved), x.dtype(),
                    count, true);
            release(moved, x);
        }
        if (target != out) {
            Backends.of(out).elementwise().copy(out, target);
            target.storage().close();
        }
    }

    /**
     * Whether x is (R, N) rows with unit last stride and a pitch P > N whose padded block (R, P) lies inside x's storage,
     * reduced over axis 0 only.
     */
    private static boolean columnsOfPitchedRows(Tensor x, int[] axes) {
        return x.rank() == 2 && axes.length == 1 && axes[0] == 0 && x.stride(1) == 1
                && x.stride(0) > x.shape().dim(1) && x.shape().dim(0) > 1
                && x.offset() + x.shape().dim(0) * x.stride(0) <= x.storage().length();
    }

    // out (x's shape with the axis set to 1) I64, x (any shape and strides)
    @Override
    public void argReduce(boolean max, Tensor out, Tensor x, int axis) {
        if (out.dtype() != DType.I64) {
            throw new IllegalArgumentException("argReduce: out must be I64, got " + out.dtype());
        }
        if (out.numel() == 0) {
            return;
        }
        CudaDevice d = CudaTensors.device(out);
        long n = x.shape().dim(axis);
        long inner = 1;
        for (int i = axis + 1; i < x.rank(); i++) {
            inner *= x.shape().dim(i);
        }
        Tensor src = x.isContiguous() && inner == 1 ? x
                : x.permute(reducedLast(x.rank(), new int[] {axis})).contiguous();
        Tensor target = out.isContiguous() ? out : Tensor.empty(out.shape(), out.dtype(), out.device());
        long r = out.numel();
        int width = n <= WARP_ROW_LIMIT ? 32 : THREADS;
        long grid = width == 32 ? Math.ceilDiv(r, THREADS / 32) : r;
        d.launch(MODULE, "argreduce_rows_" + suffix(x.dtype()), checkGrid(grid, "argReduce"), THREADS, 0, max ? 1 : 0,
                r, n, width, CudaTensors.first(target), CudaTensors.first(src), x.dtype().ordinal());
        release(src, x);
        if (target != out) {
            Backends.of(out).elementwise().copy(out, target);
            target.storage().close();
        }
    }

    // -----------------------------------------------------------------------------------------------------------------
    // launchers

    /**
     * out (rows) = op over each row of x (rows, c), contiguous at address x. With {@code split}, rows too few to fill
     * the device are cut into pieces whose partials a second call reduces.
     */
    private static void rows(CudaDevice d, ReduceOp op, long rows, long c, long out, DType outType, long x, DType xType,
            double divisor, boolean split) {
        int width = c <= WARP_ROW_LIMIT ? 32 : THREADS;
        long grid = checkGrid(width == 32 ? Math.ceilDiv(rows, THREADS / 32) : rows, "reduce");
        long fill = 4L * d.multiprocessors();
        long splits = 1;
        long chunk = Math.max(c, 1);
        if (split && width == THREADS && rows < fill) {
            splits = Math.min(Math.min(Math.ceilDiv(fill, rows), Math.ceilDiv(c, SPLIT_MIN_COLUMNS)), MAX_GRID_Y);
            if (splits > 1) {
                // pieces of a multiple of 8 elements, so each starts 16-byte aligned relative to its row
                chunk = Math.ceilDiv(Math.ceilDiv(c, splits), 8) * 8;
                splits = Math.ceilDiv(c, chunk);
            }
        }
        String kernel = "reduce_rows_" + suffix(xType);
        if (splits <= 1) {
            d.launch3(MODULE, kernel, grid, 1, 1, THREADS, 0, op.ordinal(), rows, c, chunk, width, divisor, out,
                    outType.ordinal(), x, xType.ordinal());
            return;
        }
        DType partialType = partialType(op, xType);
        CudaStorage partial = new CudaStorage(d, partialType, rows * splits); // (rows, splits)
        try {
            d.launch3(MODULE, kernel, grid, splits, 1, THREADS, 0, firstPass(op).ordinal(), rows, c, chunk, width, 1.0,
                    partial.address(0), partialType.ordinal(), x, xType.ordinal());
            rows(d, op, rows, splits, out, outType, partial.address(0), partialType, divisor, false);
        } finally {
            partial.close(); // stream-ordered: the allocator's next user runs after these kernels
        }
    }

    /** out (outer, inner) = op over R of x (outer, R, inner), contiguous at address x; split over R as needed. */
    private static void cols(CudaDevice d, ReduceOp op, long outer, long r, long inner, long out, DType outType, long x,
            DType xType, double divisor, boolean split) {
        long blocks = checkGrid(outer * Math.ceilDiv(inner, 32), "reduce");
        long fill = 4L * d.multiprocessors();
        long splits = 1;
        long rowsPerSplit = Math.max(r, 1);
        if (split && blocks < fill && r >= 2 * SPLIT_MIN_ROWS) {
            splits = Math.min(Math.min(Math.ceilDiv(fill, blocks), Math.ceilDiv(r, SPLIT_MIN_ROWS)), MAX_GRID_Y);
            if (splits > 1) {
                rowsPerSplit = Math.ceilDiv(r, splits);
                splits = Math.ceilDiv(r, rowsPerSplit);
            }
        }
        String kernel = "reduce_cols_" + suffix(xType);
        if (splits <= 1) {
            d.launch3(MODULE, kernel, blocks, 1, 1, THREADS, 0, op.ordinal(), outer, r, inner, rowsPerSplit, divisor,
                    out, outType.ordinal(), x, xType.ordinal());
            return;
        }
        DType partialType = partialType(op, xType);
        CudaStorage partial = new CudaStorage(d, partialType, splits * outer * inner); // (splits, outer·inner)
        try {
            d.launch3(MODULE, kernel, blocks, splits, 1, THREADS, 0, firstPass(op).ordinal(), outer, r, inner,
                    rowsPerSplit, 1.0, partial.address(0), partialType.ordinal(), x, xType.ordinal());
            cols(d, op, 1, splits, outer * inner, out, outType, partial.address(0), partialType, divisor, false);
        } finally {
            partial.close();
        }
    }

    /** Partials of a split reduction: F64 for floating inputs and MEAN, I64 for integer math. */
    private static DType partialType(ReduceOp op, DType x) {
        return x.isFloating() || op == ReduceOp.MEAN ? DType.F64 : DType.I64;
    }

    /** The op the pieces of a split reduction apply: MEAN sums, the second pass divides. */
    private static ReduceOp firstPass(ReduceOp op) {
        return op == ReduceOp.MEAN ? ReduceOp.SUM : op;
    }

    /**
     * {outer, R, inner} when the reduced axes of a contiguous tensor of {@code shape} form one block (size-1 axes do
     * not count), else null.
     */
    static long[] reducedBlock(Shape shape, int[] axes) {
        boolean[] reduced = new boolean[shape.rank()];
        for (int a : axes) {
            reduced[a] = true;
        }
        long outer = 1;
        long r = 1;
        long inner = 1;
        int phase = 0; // 0: before the reduced axes, 1: among them, 2: after them
        for (int i = 0; i < shape.rank(); i++) {
            long n = shape.dim(i);
            if (n == 1) {
                continue;
            }
            if (reduced[i]) {
                if (phase == 2) {
                    return null;
                }
                phase = 1;
                r *= n;
            } else if (phase == 0) {
                outer *= n;
            } else {
                phase = 2;
                inner *= n;
            }
        }
        return new long[] {outer, r, inner};
    }

    /** The permutation that keeps the other axes in order and moves {@code axes} (sorted) to the end. */
    private static int[] reducedLast(int rank, int[] axes) {
        boolean[] reduced = new boolean[rank];
        for (int a : axes) {
            reduced[a] = true;
        }
        int[] order = new int[rank];
        int k = 0;
        for (int i = 0; i < rank; i++) {
            if (!reduced[i]) {
                order[k++] = i;
            }
        }
        for (int a : axes) {
            order[k++] = a;
        }
        return order;
    }

    /** Returns a temporary copy's memory to the allocator (stream-ordered, so right after the launch is safe). */
    private static void release(Tensor temporary, Tensor original) {
        if (temporary.storage() != original.storage()) {
            temporary.storage().close();
        }
    }

    // -----------------------------------------------------------------------------------------------------------------
    // helpers shared with CudaActivation and CudaNorm

    /** The entry-point suffix of a dtype: f64, f32, bf16, f16, or int for the integer and boolean types. */
    static String suffix(DType t) {
        return switch (t) {
            case F64 -> "f64";
            case F32 -> "f32";
            case BF16 -> "bf16";
            case F16 -> "f16";
            default -> "int";
        };
    }

    /** The suffix of a floating dtype; other dtypes are rejected naming {@code op}. */
    static String floatSuffix(DType t, String op) {
        if (!t.isFloating()) {
            throw new IllegalArgumentException(op + ": CUDA kernels take F32, BF16, F16 or F64, got " + t);
        }
        return suffix(t);
    }

    /**
     * The lane count N of the warp kernel for rows of {@code c} columns: the smallest of 1, 2, 4, 8, 12, 16, 24, 32
     * with 32·N ≥ c (the instantiations in softmax.cu and layernorm.cu).
     */
    static int warpLanes(long c) {
        long perLane = Math.ceilDiv(c, 32);
        for (int n : new int[] {1, 2, 4, 8, 12, 16, 24, 32}) {
            if (perLane <= n) {
                return n;
            }
        }
        throw new IllegalArgumentException("rows of " + c + " columns are too long for a warp kernel (at most "
                + WARP_ROW_LIMIT + ")");
    }

    /** Threads of a block-per-row kernel for rows of {@code c} columns. */
    static int rowBlockThreads(long c) {
        return c >= 16384 ? 512 : 256;
    }

    /** The grid size, checked against the 2^31 − 1 blocks a 1-D grid may have. */
    static long checkGrid(long blocks, String op) {
        if (blocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(op + ": " + blocks + " blocks exceed the CUDA grid limit of "
                    + Integer.MAX_VALUE + "; split the tensor");
        }
        return blocks;
    }

    /** The device address of a tensor's first element, or 0 (a null pointer) for a null tensor. */
    static long addressOrNull(Tensor t) {
        return t == null ? 0L : CudaTensors.first(t);
    }

    /** {rows, C} of (R, C) operands that must be contiguous and of one shape; {@code op} names the caller. */
    static long[] rowsAndColumns(String op, Tensor first, Tensor... others) {
        for (Tensor t : others) {
            if (!t.shape().equals(first.shape())) {
                throw new IllegalArgumentException(op + ": shapes " + first.shape() + " and " + t.shape() + " differ");
            }
            if (t.dtype() != first.dtype()) {
                throw new IllegalArgumentException(op + ": dtypes " + first.dtype() + " and " + t.dtype() + " differ");
            }
        }
        for (Tensor t : concat(first, others)) {
            if (!t.isContiguous()) {
                throw new IllegalArgumentException(op + ": CUDA row kernels need contiguous tensors, got " + t
                        + " with strides " + java.util.Arrays.toString(t.strides()));
            }
        }
        return new long[] {first.shape().rows(), first.shape().last()};
    }

    private static Tensor[] concat(Tensor first, Tensor[] others) {
        Tensor[] all = new Tensor[others.length + 1];
        all[0] = first;
        System.arraycopy(others, 0, all, 1, others.length);
        return all;
    }
}
