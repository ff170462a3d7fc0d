package ai.fulgur.autograd.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDArrayIndexer;
import ai.djl.ndarray.index.full.NDIndexFullPick;
import ai.djl.ndarray.index.full.NDIndexFullSlice;
import ai.djl.ndarray.index.full.NDIndexFullTake;
import ai.fulgur.autograd.Variable;
import ai.fulgur.autograd.functions.Gather;
import ai.fulgur.autograd.functions.IndexSelect;
import ai.fulgur.autograd.functions.StridedView;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;

/**
 * {@code array.get(NDIndex)} and {@code array.set(NDIndex, ...)} for Fulgur arrays: slices become strided views (on
 * the tape), a pick becomes a gather, a take an index-select. Results go to the manager DJL asked for.
 */
final class FulgurNDArrayIndexer extends NDArrayIndexer {
    private final NDManager manager;

    FulgurNDArrayIndexer(NDManager manager) {
        this.manager = manager;
    }

    /** Elements along the pick axis at the given indices, as torch.gather after shaping the indices like DJL. */
    @Override
    public NDArray get(NDArray array, NDIndexFullPick fullPick) {
        Variable x = FulgurNDArray.variableOf(array, "pick");
        int axis = x.shape().axis(fullPick.getAxis());
        Tensor idx = FulgurNDArray.index(fullPick.getIndices(), "pick");
        // labels (B) or (B, 1) against logits (B, C): the index takes x's shape with the pick axis inferred
        long[] target = x.shape().dims();
        target[axis] = -1;
        Tensor shaped = idx.reshape(target);
        return new FulgurNDArray(resultManager(array), FulgurNDArray.recorded(() -> Gather.apply(x, axis, shaped)));
    }

    @Override
    public NDArray get(NDArray array, NDIndexFullTake fullTake) {
        Variable x = FulgurNDArray.variableOf(array, "take");
        Tensor idx = FulgurNDArray.index(fullTake.getIndices(), "take");
        return new FulgurNDArray(resultManager(array),
                FulgurNDArray.recorded(() -> IndexSelect.apply(x, fullTake.getAxis(), idx)));
    }

    @Override
    public NDArray get(NDArray array, NDIndexFullSlice fullSlice) {
        Variable x = FulgurNDArray.variableOf(array, "get");
        return new FulgurNDArray(resultManager(array),
                FulgurNDArray.recorded(() -> StridedView.apply(x, t -> view(t, fullSlice), "get")));
    }

    @Override
    public void set(NDArray array, NDIndexFullSlice fullSlice, NDArray value) {
        Variable x = FulgurNDArray.variableOf(array, "set");
        Tensor src = FulgurNDArray.variableOf(value, "set").data();
        Tensor target = sliceOnly(x.data(), fullSlice);
        Tensor v = src.dtype() == x.dtype() ? src : src.cast(x.dtype());
        Shape squeezed = DjlTypes.shape(fullSlice.getSqueezedShape());
        if (v.shape().equals(squeezed) && !squeezed.equals(target.shape())) {
            v = v.reshape(target.shape());
        }
        Elementwise.assign(target, v);
        x.bumpVersion();
    }

    @Override
    public void set(NDArray array, NDIndexFullSlice fullSlice, Number value) {
        Variable x = FulgurNDArray.variableOf(array, "set");
        Elementwise.fill(sliceOnly(x.data(), fullSlice), value.doubleValue());
        x.bumpVersion();
    }

    private NDManager resultManager(NDArray array) {
        return manager != null ? manager : array.getManager();
    }

    /** The slice view with the indexed (non-range) axes squeezed away, as DJL's get returns it. */
    private static Tensor view(Tensor t, NDIndexFullSlice s) {
        Tensor v = sliceOnly(t, s);
        int[] squeeze = s.getToSqueeze();
        for (int i = squeeze.length - 1; i >= 0; i--) {
            v = v.squeeze(squeeze[i]);
        }
        return v;
    }

    private static Tensor sliceOnly(Tensor t, NDIndexFullSlice s) {
        long[] min = s.getMin();
        long[] max = s.getMax();
        long[] step = s.getStep();
        Tensor v = t;
        for (int axis = 0; axis < min.length; axis++) {
            if (min[axis] != 0 || max[axis] != t.shape().dim(axis) || step[axis] != 1) {
                v = v.slice(axis, min[axis], max[axis], step[axis]);
            }
        }
        return v;
    }
}
