package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import java.util.Arrays;

/**
 * The arguments of one {@code cuTensorMapEncodeTiled} call for a 16-bit (B, N, H, D) attention operand, checked
 * against the copy engine's rules before the driver sees them: rank 4, dimensions innermost first (D, N, H, B),
 * strides of the three outer dimensions in bytes, a box of 64 elements (128 bytes, the width of the 128-byte swizzle)
 * × {@code boxRows} rows × 1 head × 1 batch entry, 128-byte swizzle, out-of-bounds elements zero-filled. A box of the
 * 64 columns {@code c0} … of rows {@code r0} … lands in shared memory as the 128-byte-swizzled tile of
 * flash_attention_hopper.cuh (chunk c of row r at c ^ (r & 7)), so a head dim of 128 is two boxes.
 *
 * <p>Rules (CUDA driver API, cuTensorMapEncodeTiled): the global address 16-byte aligned, every stride a multiple of
 * 16 bytes below 2^40, every dimension at most 2^32, every box dimension 1 … 256. A dimension of extent 1 is never
 * stepped, so its stride is replaced by 16 bytes when it breaks the rule (the attention kernels accept such views).
 *
 * @param dataType   {@code CUtensorMapDataType}: 6 (FLOAT16) or 9 (BFLOAT16)
 * @param address    device address of element (0, 0, 0, 0)
 * @param dims       extents, innermost first: D, N, H, B
 * @param strides    byte strides of dims 1 … 3: row, head, batch
 * @param box        box extents, innermost first: 64, rows, 1, 1
 */
record TensorMapLayout(int dataType, long address, long[] dims, long[] strides, int[] box) {
    /** {@code CU_TENSOR_MAP_DATA_TYPE_FLOAT16}. */
    static final int FLOAT16 = 6;
    /** {@code CU_TENSOR_MAP_DATA_TYPE_BFLOAT16}. */
    static final int BFLOAT16 = 9;
    /** {@code CU_TENSOR_MAP_SWIZZLE_128B}: the shared layout the wgmma descriptors of the Hopper kernels declare. */
    static final int SWIZZLE_128B = 3;
    /** {@code CU_TENSOR_MAP_L2_PROMOTION_L2_128B}. */
    static final int L2_PROMOTION_128B = 2;
    /** Box width in elements: 128 bytes of 16-bit elements, the 128-byte swizzle's row. */
    static final int BOX_COLUMNS = 64;

    TensorMapLayout {
        if (dims.length != 4 || strides.length != 3 || box.length != 4) {
            throw new IllegalArgumentException("a rank-4 tensor map needs 4 dims, 3 strides and 4 box extents, got "
                    + dims.length + ", " + strides.length + " and " + box.length);
        }
        dims = dims.clone();
        strides = strides.clone();
        box = box.clone();
    }

    /**
     * The layout of a (B, N, H, D) BF16/F16 tensor whose head dim has stride 1, with boxes of 64 columns × boxRows
     * rows; throws IllegalArgumentException naming the value when the copy engine cannot address it
     * ({@link #problem}).
     */
    static TensorMapLayout heads(Tensor x, int boxRows) {
        TensorMapLayout layout = of(x, CudaTensors.first(x), boxRows);
        String problem = layout.problem();
        if (problem != null) {
            throw new IllegalArgumentException("tensor map of " + x + ": " + problem);
        }
        return layout;
    }

    /**
     * {@link #heads} for the tensor's first element at {@code address}, without the check (the selection asks
     * {@link #problem} and falls back instead). Throws IllegalArgumentException for a tensor no map can describe.
     */
    static TensorMapLayout of(Tensor x, long address, int boxRows) {
        if (x.shape().rank() != 4) {
            throw new IllegalArgumentException("tensor map: expected a (B, N, H, D) tensor, got shape " + x.shape());
        }
        if (x.dtype() != DType.BF16 && x.dtype() != DType.F16) {
            throw new IllegalArgumentException("tensor map: expected BF16 or F16, got " + x.dtype());
        }
        if (x.stride(3) != 1) {
            throw new IllegalArgumentException("tensor map: the head dim must have stride 1, got " + x.stride(3));
        }
        long elem = x.dtype().byteSize();
        long[] dims = {x.shape().dim(3), x.shape().dim(1), x.shape().dim(2), x.shape().dim(0)};
        long[] strides = new long[3];
        int[] axes = {1, 2, 0}; // row, head, batch
        for (int i = 0; i < 3; i++) {
            long bytes = x.stride(axes[i]) * elem;
            // an extent-1 axis is never stepped: any legal stride describes it
            strides[i] = x.shape().dim(axes[i]) == 1 && (bytes % 16 != 0 || bytes <= 0) ? 16 : bytes;
        }
        return new TensorMapLayout(x.dtype() == DType.BF16 ? BFLOAT16 : FLOAT16, address, dims, strides,
                new int[] {BOX_COLUMNS, boxRows, 1, 1});
    }

    /** Why the copy engine cannot use this layout, naming the value and the rule, or null when it can. */
    String problem() {
        if (address % 16 != 0) {
            return "the address 0x" + Long.toHexString(address) + " must be 16-byte aligned";
        }
        String[] strideNames = {"row", "head", "batch"};
        for (int i = 0; i < 3; i++) {
            if (strides[i] <= 0 || strides[i] % 16 != 0 || strides[i] >= 1L << 40) {
                return "the " + strideNames[i] + " stride must be a positive multiple of 16 bytes below 2^40, got "
                        + strides[i] + " bytes";
            }
        }
        for (int i = 0; i < 4; i++) {
            if (dims[i] < 1 || dims[i] > 1L << 32) {
                return "dimension " + i + " must be 1 … 2^32, got " + dims[i];
            }
            if (box[i] < 1 || box[i] > 256) {
                return "box extent " + i + " must be 1 … 256, got " + box[i];
            }
        }
        if (box[0] != BOX_COLUMNS) {
            return "the box must be " + BOX_COLUMNS + " elements (128 bytes, the swizzle width) wide, got " + box[0];
        }
        if (dims[0] % BOX_COLUMNS != 0) {
            return "the head dim must be a multiple of " + BOX_COLUMNS + ", got " + dims[0];
        }
        return null;
    }

    /** Bytes one box copies (the mbarrier's expected transaction count counts whole boxes, zero-filled or not). */
    long boxBytes() {
        return 2L * box[0] * box[1] * box[2] * box[3];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorMapLayout l && dataType == l.dataType && address == l.address
                && Arrays.equals(dims, l.dims) && Arrays.equals(strides, l.strides) && Arrays.equals(box, l.box);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims) * 31 + Long.hashCode(address);
    }

    @Override
    public String toString() {
        return "TensorMapLayout[type " + dataType + ", address 0x" + Long.toHexString(address) + ", dims "
                + Arrays.toString(dims) + ", strides " + Arrays.toString(strides) + " bytes, box "
                + Arrays.toString(box) + "]";
    }

    // accessors return copies: the record's arrays stay as checked
    @Override
    public long[] dims() {
        return dims.clone();
    }

    @Override
    public long[] strides() {
        return strides.clone();
    }

    @Override
    public int[] box() {
        return box.clone();
    }
}
