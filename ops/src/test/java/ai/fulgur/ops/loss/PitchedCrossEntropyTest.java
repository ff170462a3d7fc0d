package ai.fulgur.ops.loss;

import static ai.fulgur.ops.testing.PitchedTensors.buffer;
import static ai.fulgur.ops.testing.PitchedTensors.padsChanged;
import static ai.fulgur.ops.testing.PitchedTensors.pitched;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Cross-entropy on row-pitched logits (B, T, V) with rows padded past V, as a vocabulary head produces them on CUDA:
 * the CPU kernel reads them in place (their pads hold NaN, which would poison any row that read them) and gives what
 * it gives on the contiguous logits and what a float64 formula gives; the backward's dlogits comes back with the
 * logits' pitch, and the kernel leaves a dlogits pad alone.
 */
class PitchedCrossEntropyTest {
    private static final long IGNORE = -100;

    @Test
    void pitchedLogitsGiveTheContiguousResults() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (DType dtype : new DType[] {DType.F32, DType.F64, DType.BF16}) {
            long b = 2;
            long t = 3;
            long v = 13;
            long pitch = 16;
            double[] x = new double[(int) (b * t * v)];
            for (int i = 0; i < x.length; i++) {
                x[i] = rnd.nextDouble(-4, 4);
            }
            Tensor logits = Tensor.of(x, b, t, v).cast(dtype);
            long[] tg = {3, IGNORE, 0, 12, 7, 5};
            Tensor targets = Tensor.of(tg, b, t);
            Tensor pitchedLogits = pitched(logits, pitch, Double.NaN);
            String what = dtype.toString();

            Loss.CrossEntropyResult want = Loss.crossEntropyForward(logits, targets, IGNORE);
            Loss.CrossEntropyResult got = Loss.crossEntropyForward(pitchedLogits, targets, IGNORE);
            assertArrayEquals(want.losses().toDoubleArray(), got.losses().toDoubleArray(), 0, what + " losses");
            assertArrayEquals(want.lse().toDoubleArray(), got.lse().toDoubleArray(), 0, what + " lse");
            double[] xr = logits.toDoubleArray(); // the values as stored (rounded for BF16)
            for (int r = 0; r < tg.length; r++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < v; j++) {
                    max = Math.max(max, xr[(int) (r * v + j)]);
                }
                double sum = 0;
                for (int j = 0; j < v; j++) {
                    sum += Math.exp(xr[(int) (r * v + j)] - max);
                }
                double lse = max + Math.log(sum);
                double loss = tg[r] == IGNORE ? 0 : lse - xr[(int) (r * v + tg[r])];
                double tol = dtype == DType.F64 ? 1e-12 : 1e-5;
                assertEquals(loss, got.losses().toDoubleArray()[r], tol * (1 + Math.abs(loss)), what + " row " + r);
            }

            DType gradType = dtype.isHalf() ? DType.F32 : dtype;
            double[] dl = {0.5, 1, -2, 0.25, 1.5, 3};
            Tensor dlosses = Tensor.of(dl, b, t).cast(gradType);
            Tensor dWant = Loss.crossEntropyBackward(dlosses, logits, want.lse(), targets, IGNORE);
            Tensor dGot = Loss.crossEntropyBackward(dlosses, pitchedLogits, got.lse(), targets, IGNORE);
            assertEquals(Shape.of(b, t, v), dGot.shape());
            assertArrayEquals(new long[] {t * pitch, pitch, 1}, dGot.strides(), what + ": dlogits keep the pitch");
            assertArrayEquals(dWant.toDoubleArray(), dGot.toDoubleArray(), 0, what + " dlogits");
        }
    }

    @Test
    void backwardKernelLeavesTheDlogitsPadAlone() {
        SplittableRandom rnd = new SplittableRandom(4);
        long r = 5;
        long v = 9;
        double[] x = new double[(int) (r * v)];
        for (int i = 0; i < x.length; i++) {
            x[i] = rnd.nextDouble(-3, 3);
        }
        Tensor logits = pitched(Tensor.of(x, r, v).cast(DType.F32), 12, Double.NaN);
        Tensor targets = Tensor.of(new long[] {1, IGNORE, 8, 0, 4}, r);
        Tensor losses = Tensor.zeros(Shape.of(r), DType.F32, Device.CPU);
        Tensor lse = Tensor.zeros(Shape.of(r), DType.F32, Device.CPU);
        LossKernels kernels = Backends.of(Device.CPU).loss();
        kernels.crossEntropyForward(losses, lse, logits, targets, IGNORE);
        Tensor dlogits = pitched(Tensor.zeros(Shape.of(r, v), DType.F32, Device.CPU), 11, 96);
        Tensor ones = Tensor.of(new double[] {1, 1, 1, 1, 1}, r).cast(DType.F32);
        kernels.crossEntropyBackward(dlogits, ones, logits, lse, targets, IGNORE);
        assertEquals(0, padsChanged(buffer(dlogits, 11), v, 96), "dlogits pad written");
        double[] d = dlogits.contiguous().toDoubleArray();
        for (int i = 0; i < r; i++) {
            double sum = 0;
            for (int j = 0; j < v; j++) {
                sum += d[(int) (i * v + j)];
            }
            assertEquals(0, sum, 1e-6, "row " + i + " of softmax − onehot sums to 0");
        }
    }
}
