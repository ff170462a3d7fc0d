package ai.fulgur.ops.indexing;

import ai.fulgur.ops.Tensor;

/**
 * Kernel SPI: gathers and their scatter-add adjoints. Index tensors are I32 or I64 and in range (the facade checks
 * and names a bad index); data tensors are contiguous.
 */
public interface IndexingKernels {

    /**
     * Selects slices along an axis: viewing x as (P, N, Q) around the axis, out (P, I, Q) = x[p, index[i], q]. An
     * embedding lookup is this with P = 1: out (I, C) = weight[index[i], :].
     */
    void indexSelect(Tensor out, Tensor x, Tensor index, int axis);

    /**
     * The adjoint of {@link #indexSelect}: dx[p, index[i], q] += src[p, i, q], accumulating repeated indices. Embedding
     * backward is this with P = 1 (scatter-add of row gradients into the table).
     */
    void indexAdd(Tensor dx, Tensor src, Tensor index, int axis);

    /** {@code out[..., j, ...] = x[..., index[..., j, ...], ...]} along {@code axis} (torch.gather); index has out's shape. */
    void gather(Tensor out, Tensor x, Tensor index, int axis);

    /** The adjoint of {@link #gather}: {@code dx[..., index[..., j, ...], ...] += src[..., j, ...]}. */
    void scatterAdd(Tensor dx, Tensor src, Tensor index, int axis);
}
