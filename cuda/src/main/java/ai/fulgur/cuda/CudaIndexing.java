package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.indexing.IndexingKernels;

/**
 * Gathers and scatter-adds on the GPU (indexing.cu). The gathers copy bytes, so every dtype works; indexSelect copies
 * each row in the widest unit (up to 16 bytes) that the row length and both addresses allow. The scatter-adds use
 * atomicAdd into F32, F64, I64 or I32; a BF16 or F16 target is converted to an F32 scratch, added into there and
 * rounded back once (three passes over the target, but no rounding per addition). I8, U8 and BOOL targets are not
 * supported.
 *
 * <p>Indices (I32 or I64) are checked on the device, since the facade checks host indices only: an out-of-range
 * index reads and writes nothing out of bounds; indexSelect and gather fill that output row or element with
 * all-ones bytes (NaN for floating types, -1 for integers) and the scatter-adds drop that contribution.
 */
final class CudaIndexing implements IndexingKernels {
    private static final String MODULE = "indexing";
    private static final int THREADS = 256;
    private static final int LAYOUT_WORDS = 2 + StridedLayout.MAX_RANK + StridedLayout.MAX_OPERANDS
            * StridedLayout.MAX_RANK + StridedLayout.MAX_OPERANDS;

    private static void checkIndex(String op, Tensor index) {
        if (index.dtype() != DType.I32 && index.dtype() != DType.I64) {
            throw new IllegalArgumentException(op + ": index must be I32 or I64, got " + index.dtype());
        }
        if (!index.isContiguous()) {
            throw new IllegalArgumentException(op + ": index " + index + " must be contiguous");
        }
    }

    private static void checkContiguous(String op, String name, Tensor t) {
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(op + ": " + name + " " + t + " must be contiguous");
        }
    }

    private static void checkRank3(String op, String name, Tensor t) {
        if (t.rank() != 3) {
            throw new IllegalArgumentException(op + ": " + name + " must be viewed as (P, N, Q), got shape "
                    + t.shape());
        }
    }

    /** The accumulator suffix of index_add_ / scatter_add_ for a target dtype (F32 for the half types' scratch). */
    private static String accumulator(String op, DType t) {
        return switch (t) {
            case F32, BF16, F16 -> "f32";
            case F64 -> "f64";
            case I64 -> "i64";
            case I32 -> "i32";
            default -> throw new UnsupportedOperationException(op + " into " + t + " is not supported on CUDA "
                    + "devices; use F32, BF16, F16, F64, I64 or I32");
        };
    }

    // out (P, I, Q), x (P, N, Q), index (I)
    @Override
    public void indexSelect(Tensor out, Tensor x, Tensor index, int axis) {
        checkIndex("indexSelect", index);
        checkRank3("indexSelect", "x", x);
        checkRank3("indexSelect", "out", out);
        checkContiguous("indexSelect", "x", x);
        checkContiguous("indexSelect", "out", out);
        long p = x.shape().dim(0);
        long n = x.shape().dim(1);
        long q = x.shape().dim(2);
        long count = index.numel();
        long rowBytes = q * x.dtype().byteSize();
        long outAddress = CudaTensors.first(out);
        long xAddress = CudaTensors.first(x);
        int width = 16;
        while (rowBytes % width != 0 || outAddress % width != 0 || xAddress % width != 0) {
            width /= 2; // ends at the element size at the latest
        }
        long units = rowBytes / width;
        CudaDevice d = CudaTensors.device(out);
        d.launch(MODULE, "index_select_w" + width, CudaTensors.blocksFor(d, p * count * units, THREADS), THREADS, 0,
                outAddress, xAddress, CudaTensors.first(index), index.dtype().ordinal(), p, n, count, units);
    }

    // dx (P, N, Q) += src (P, I, Q) at index (I)
    @Override
    public void indexAdd(Tensor dx, Tensor src, Tensor index, int axis) {
        checkIndex("indexAdd", index);
        checkRank3("indexAdd", "dx", dx);
        checkContiguous("indexAdd", "dx", dx);
        checkContiguous("indexAdd", "src", src);
        String acc = accumulator("indexAdd", dx.dtype());
        long p = dx.shape().dim(0);
        long n = dx.shape().dim(1);
        long q = dx.shape().dim(2);
        long count = index.numel();
        CudaDevice d = CudaTensors.device(dx);
        try (Scratch target = Scratch.of(d, dx)) {
            d.launch(MODULE, "index_add_" + acc, CudaTensors.blocksFor(d, p * count * q, THREADS), THREADS, 0,
                    target.address, CudaTensors.first(src), src.dtype().ordinal(), CudaTensors.first(index),
                    index.dtype().ordinal(), p, n, count, q);
        }
    }

    @Override
    public void gather(Tensor out, Tensor x, Tensor index, int axis) {
        checkIndex("gather", index);
        checkContiguous("gather", "out", out);
        axis = x.shape().axis(axis);
        int width = x.dtype().byteSize();
        CudaDevice d = CudaTensors.device(out);
        d.launch(MODULE, "gather_w" + width, CudaTensors.blocksFor(d, index.numel(), THREADS), THREADS, 0,
                layout("gather", index, x.strides(), axis), CudaTensors.first(out), CudaTensors.first(x),
                CudaTensors.first(index), index.dtype().ordinal(), x.stride(axis), x.shape().dim(axis));
    }

    @Override
    public void scatterAdd(Tensor dx, Tensor src, Tensor index, int axis) {
        checkIndex("scatterAdd", index);
        checkContiguous("scatterAdd", "src", src);
        axis = dx.shape().axis(axis);
        String acc = accumulator("scatterAdd", dx.dtype());
        CudaDevice d = CudaTensors.device(dx);
        if (dx.dtype().isHalf()) {
            checkContiguous("scatterAdd", "dx", dx); // the scratch is contiguous
        }
        long[] strides = dx.dtype().isHalf() ? dx.shape().contiguousStrides() : dx.strides();
        try (Scratch target = Scratch.of(d, dx)) {
            d.launch(MODULE, "scatter_add_" + acc, CudaTensors.blocksFor(d, index.numel(), THREADS), THREADS, 0,
                    layout("scatterAdd", index, strides, axis), target.address, CudaTensors.first(src),
                    src.dtype().ordinal(), CudaTensors.first(index), index.dtype().ordinal(), strides[axis],
                    dx.shape().dim(axis));
        }
    }

    /**
     * The StridedLayout struct over the index's shape with one operand, the data tensor, whose stride along {@code axis}
     * is zeroed (the kernel adds index · axisStride itself); offsets are applied to the addresses instead.
     */
    private static long[] layout(String op, Tensor index, long[] dataStrides, int axis) {
        int rank = index.rank();
        if (rank > StridedLayout.MAX_RANK) {
            throw new IllegalArgumentException(op + " on CUDA devices takes rank <= " + StridedLayout.MAX_RANK
                    + ", got index shape " + index.shape());
        }
        if (dataStrides.length != rank) {
            throw new IllegalArgumentException(op + ": index shape " + index.shape() + " must have the data's rank "
                    + dataStrides.length);
        }
        long[] w = new long[LAYOUT_WORDS];
        w[0] = rank;
        w[1] = index.numel();
        for (int a = 0; a < rank; a++) {
            w[2 + a] = index.shape().dim(a);
            w[2 + StridedLayout.MAX_RANK + a] = a == axis ? 0 : dataStrides[a];
        }
        return w;
    }

    /**
     * The array a scatter-add accumulates into: the target itself, or for BF16/F16 an F32 copy that is rounded back
     * into the target on close. Kernels run in stream order, so closing (releasing the scratch to the caching
     * allocator) right after the launches is safe.
     */
    private static final class Scratch implements AutoCloseable {
        final long address;
        private final CudaDevice device;
        private final Tensor target;
        private final CudaStorage scratch;

        private Scratch(CudaDevice device, Tensor target, CudaStorage scratch) {
            this.device = device;
            this.target = target;
            this.scratch = scratch;
            this.address = scratch == null ? CudaTensors.first(target) : scratch.address(0);
        }

        static Scratch of(CudaDevice d, Tensor target) {
            if (!target.dtype().isHalf()) {
                return new Scratch(d, target, null);
            }
            long n = target.numel();
            CudaStorage s = new CudaStorage(d, DType.F32, n);
            d.launch(MODULE, "convert_to_f32", CudaTensors.blocksFor(d, n, THREADS), THREADS, 0, s.address(0),
                    CudaTensors.first(target), target.dtype().ordinal(), n);
            return new Scratch(d, target, s);
        }

        @Override
        public void close() {
            if (scratch == null) {
                return;
            }
            long n = target.numel();
            try {
                device.launch(MODULE, "convert_from_f32", CudaTensors.blocksFor(device, n, THREADS), THREADS, 0,
                        CudaTensors.first(target), target.dtype().ordinal(), scratch.address(0), n);
            } finally {
                scratch.close();
            }
        }
    }
}
