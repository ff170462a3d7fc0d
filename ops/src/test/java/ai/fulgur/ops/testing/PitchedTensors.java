package ai.fulgur.ops.testing;

import ai.fulgur.ops.Device;
import ai.fulgur.ops.RowPitched;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import java.util.Arrays;

/**
 * Row-pitched host tensors for tests: values in rows padded to a larger pitch, the pad holding a chosen value (NaN,
 * so that a kernel reading it as data fails; a sentinel, so that a kernel writing it is caught).
 */
public final class PitchedTensors {
    private PitchedTensors() {}

    /**
     * {@code values} (..., N) copied into a new buffer whose rows are {@code pitch} ≥ N elements apart, every pad
     * element {@code pad}; returns the view (..., N) with strides (..., pitch, 1).
     */
    public static Tensor pitched(Tensor values, long pitch, double pad) {
        long n = values.shape().last();
        long rows = values.shape().rows();
        double[] fill = new double[Math.toIntExact(rows * pitch)];
        Arrays.fill(fill, pad);
        Tensor base = Tensor.of(fill, rows, pitch).cast(values.dtype());
        if (!values.device().isCpu()) {
            base = base.to(values.device());
        }
        Tensor rowsView = base.slice(1, 0, n);
        Elementwise.assign(rowsView, values.reshape(rows, n));
        return RowPitched.withShape(rowsView, values.shape());
    }

    /** The whole padded buffer behind a view made by {@link #pitched}: (rows, pitch), pads included. */
    public static Tensor buffer(Tensor pitchedView, long pitch) {
        long rows = pitchedView.shape().rows();
        return new Tensor(pitchedView.storage(), Shape.of(rows, pitch), new long[] {pitch, 1},
                pitchedView.offset());
    }

    /** Pad elements (column ≥ n of each row) of a (rows, pitch) buffer that are not {@code pad} (NaN matches NaN). */
    public static int padsChanged(Tensor buffer, long n, double pad) {
        double[] v = buffer.to(Device.CPU).toDoubleArray();
        long pitch = buffer.shape().dim(1);
        int changed = 0;
        for (int i = 0; i < v.length; i++) {
            if (i % pitch >= n && !(Double.isNaN(pad) ? Double.isNaN(v[i]) : v[i] == pad)) {
                changed++;
            }
        }
        return changed;
    }

}
