package ai.fulgur.ops;

/**
 * Row-pitched layouts: a tensor (..., N) whose last axis has unit stride and whose rows (every other axis, flattened
 * in row-major order) start a uniform pitch P ≥ N elements apart, strides (..., P, 1). A contiguous tensor is the case
 * P = N. Kernels that take "rows" (matrix products through a leading dimension, cross-entropy) read and write such
 * views in place, so an output whose row length is not a multiple of 16 bytes (GPT-2's 50257 logits) can be given a
 * padded pitch and still be handed around without copies. The P − N elements past each row belong to nobody: no
 * kernel reads them as data.
 *
 * <p>Leaves out: layouts whose rows do not flatten to one uniform pitch (a slice along a leading axis of a pitched
 * tensor, a transposed view); those go through {@link Tensor#contiguous()} as before.
 */
public final class RowPitched {
    private RowPitched() {}

    /**
     * t viewed as (R, N) rows with strides (P, 1), P ≥ N, without a copy; null when t is not row-pitched (a last
     * stride other than 1, leading axes that do not flatten to one pitch, overlapping rows) or has rank 0.
     */
    public static Tensor rowsView(Tensor t) {
        int rank = t.rank();
        if (rank == 0) {
            return null;
        }
        long n = t.shape().last();
        long rows = t.shape().rows();
        if (n != 1 && t.stride(rank - 1) != 1) {
            return null;
        }
        long pitch = -1;
        long expected = -1;
        for (int i = rank - 2; i >= 0; i--) {
            long d = t.shape().dim(i);
            if (d == 1) {
                continue; // a size-1 axis's stride is never used
            }
            if (pitch < 0) {
                pitch = t.stride(i);
                expected = pitch * d;
            } else if (t.stride(i) != expected) {
                return null;
            } else {
                expected *= d;
            }
        }
        if (pitch < 0 || rows <= 1) {
            pitch = Math.max(1, n); // a single row: any pitch will do
        }
        if (pitch < Math.max(1, n)) {
            return null; // rows that overlap (a broadcast) are not rows of their own
        }
        return new Tensor(t.storage(), Shape.of(rows, n), new long[] {pitch, 1}, t.offset());
    }

    /** t as (R, N) rows: {@link #rowsView} when it is row-pitched, else a contiguous copy reshaped. */
    public static Tensor rows(Tensor t) {
        Tensor v = rowsView(t);
        if (v != null) {
            return v;
        }
        long n = t.rank() == 0 ? 1 : t.shape().last();
        return t.contiguous().reshape(t.numel() / Math.max(1, n), n);
    }

    /** The pitch (elements from one row's start to the next) of an (R, N) rows view. */
    public static long pitch(Tensor rows) {
        if (rows.rank() != 2) {
            throw new IllegalArgumentException("pitch of rows: expected a rank-2 (R, N) view, got shape "
                    + rows.shape());
        }
        return rows.shape().dim(0) <= 1 ? Math.max(1, rows.shape().dim(1)) : rows.stride(0);
    }

    /**
     * An uninitialised tensor of {@code shape} (..., N) whose rows start {@code pitch} ≥ N elements apart; the pad
     * elements are never written by this call. {@code pitch} = N gives a contiguous tensor.
     */
    public static Tensor empty(Shape shape, DType dtype, Device device, long pitch) {
        if (shape.rank() == 0) {
            throw new IllegalArgumentException("a row-pitched tensor needs rank >= 1, got shape " + shape);
        }
        long n = shape.last();
        if (pitch < n || pitch < 1) {
            throw new IllegalArgumentException("row pitch must be at least the row length " + n + " (and 1), got "
                    + pitch + " for shape " + shape);
        }
        if (pitch == n) {
            return Tensor.empty(shape, dtype, device);
        }
        long rows = shape.rows();
        Tensor padded = Tensor.empty(Shape.of(rows, pitch), dtype, device);
        return withShape(new Tensor(padded.storage(), Shape.of(rows, n), new long[] {pitch, 1}, 0), shape);
    }

    /** An (R, N) rows view given {@code shape} (..., N) with R = the product of the leading axes, keeping its pitch. */
    public static Tensor withShape(Tensor rows, Shape shape) {
        if (rows.rank() != 2 || shape.rank() == 0 || shape.last() != rows.shape().dim(1)
                || shape.numel() != rows.numel()) {
            throw new IllegalArgumentException("rows view " + rows.shape() + " cannot take shape " + shape
                    + ": expected (..., " + (rows.rank() == 2 ? rows.shape().dim(1) : "N") + ") with as many rows");
        }
        long pitch = pitch(rows);
        long[] strides = new long[shape.rank()];
        strides[shape.rank() - 1] = 1;
        long step = pitch;
        for (int i = shape.rank() - 2; i >= 0; i--) {
            strides[i] = step;
            step *= shape.dim(i);
        }
        return new Tensor(rows.storage(), shape, strides, rows.offset());
    }
}
