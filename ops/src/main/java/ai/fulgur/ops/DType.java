package ai.fulgur.ops;

/**
 * The element types a {@link Tensor} can hold.
 *
 * <p>Floating types are the ones kernels compute in. On the CPU, {@link #BF16} and {@link #F16} are storage formats:
 * kernels widen them to {@link #F32}, compute, and narrow the result (as PyTorch's CPU path does for most ops).
 * Integer and boolean types exist for indices, labels, masks and comparison results.
 */
public enum DType {
    F64(8, true),
    F32(4, true),
    BF16(2, true),
    F16(2, true),
    I64(8, false),
    I32(4, false),
    I8(1, false),
    U8(1, false),
    BOOL(1, false);

    private final int byteSize;
    private final boolean floating;

    DType(int byteSize, boolean floating) {
        this.byteSize = byteSize;
        this.floating = floating;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** True for F64, F32, BF16 and F16. */
    public boolean isFloating() {
        return floating;
    }

    /** True for the 16-bit floating formats, which CPU kernels widen to F32. */
    public boolean isHalf() {
        return this == BF16 || this == F16;
    }

    /** True for I64, I32, I8 and U8 (not BOOL). */
    public boolean isInteger() {
        return !floating && this != BOOL;
    }

    /**
     * The type a binary op on {@code a} and {@code b} produces, following PyTorch's promotion for tensors: floating
     * beats integer, wider beats narrower, and BF16 with F16 gives F32.
     */
    public static DType promote(DType a, DType b) {
        if (a == b) {
            return a;
        }
        if (a.floating != b.floating) {
            return a.floating ? a : b;
        }
        if (a.floating) {
            if (a.isHalf() && b.isHalf()) {
                return F32;
            }
            return a.byteSize >= b.byteSize ? a : b;
        }
        if (a == BOOL) {
            return b;
        }
        if (b == BOOL) {
            return a;
        }
        if (a.byteSize == b.byteSize) {
            return a == U8 || b == U8 ? I32 : a; // I8 with U8: no 8-bit type holds both
        }
        return a.byteSize > b.byteSize ? a : b;
    }
}
