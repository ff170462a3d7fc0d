package ai.fulgur.cuda;

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
import ai.fulgur.ops.loss.Loss;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Cross-entropy on row-pitched logits on the GPU equals the CPU kernel on the same views: logits (R, V) with rows
 * padded past V (pads NaN: a row that read them would come out NaN), dlogits written at its own pitch with its pad
 * left alone (a sentinel), and through the facade the gradient comes back with the logits' pitch. V = 50257 with
 * GPT-2's padded pitch 50264, and small odd sizes; F32 and BF16; outputs poisoned first.
 */
class CudaPitchedLossTest extends GpuTest {
    private static final long IGNORE = -100;
    private static final double SENTINEL = 96;

    @Test
    void pitchedLogitsMatchCpu() {
        SplittableRandom rnd = new SplittableRandom(41);
        long[][] sizes = {{7, 13, 16, 24}, {9, 50257, 50264, 50264}, {5, 1000, 1008, 1003}};
        for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
            for (long[] s : sizes) {
                long r = s[0];
                long v = s[1];
                long ldx = s[2];
                long ldd = s[3];
                String what = dtype + " R=" + r + " V=" + v + " ldx=" + ldx + " ldd=" + ldd;
                Tensor x = CudaTesting.random(rnd, dtype, -6, 6, r, v);
                long[] tg = new long[(int) r];
                for (int i = 0; i < tg.length; i++) {
                    tg[i] = i % 4 == 1 ? IGNORE : rnd.nextLong(v);
                }
                Tensor targets = Tensor.of(tg, r);
                DType outType = dtype.isHalf() ? DType.F32 : dtype;
                Tensor cpuLogits = pitched(x, ldx, Double.NaN);
                Tensor losses = Tensor.zeros(Shape.of(r), outType, Device.CPU);
                Tensor lse = Tensor.zeros(Shape.of(r), outType, Device.CPU);
                Backends.of(Device.CPU).loss().crossEntropyForward(losses, lse, cpuLogits, targets, IGNORE);
                Tensor gLogits = pitched(x.to(GPU), ldx, Double.NaN);
                Tensor gLosses = CudaTesting.poisoned(Shape.of(r), outType);
                Tensor gLse = CudaTesting.poisoned(Shape.of(r), outType);
                Tensor gTargets = targets.to(GPU);
                Backends.of(GPU).loss().crossEntropyForward(gLosses, gLse, gLogits, gTargets, IGNORE);
                CudaTesting.assertClose(what + " losses", losses, gLosses, 1e-4);
                CudaTesting.assertClose(what + " lse", lse, gLse, 1e-4);

                Tensor dlosses = CudaTesting.random(rnd, DType.F32, -2, 2, r);
                Tensor dCpu = pitched(Tensor.zeros(Shape.of(r, v), dtype, Device.CPU), ldd, SENTINEL);
                Backends.of(Device.CPU).loss().crossEntropyBackward(dCpu, dlosses, cpuLogits, lse, targets, IGNORE);
                Tensor dGpu = pitched(CudaTesting.poisoned(Shape.of(r, v), dtype), ldd, SENTINEL);
                Backends.of(GPU).loss().crossEntropyBackward(dGpu, dlosses.to(GPU), gLogits, gLse, gTargets, IGNORE);
                CudaTesting.assertClose(what + " dlogits", dCpu.contiguous(), dGpu.contiguous(),
                        dtype == DType.F32 ? 1e-5 : 1e-2);
                assertEquals(0, padsChanged(buffer(dGpu, ldd), v, SENTINEL), what + ": dlogits pad written");
            }
        }
    }

    @Test
    void facadeGradientKeepsTheLogitsPitch() {
        SplittableRandom rnd = new SplittableRandom(42);
        long b = 2;
        long t = 5;
        long v = 50257;
        long pitch = 50264;
        Tensor x = CudaTesting.random(rnd, DType.BF16, -6, 6, b, t, v);
        Tensor targets = Tensor.of(new long[] {0, 50256, IGNORE, 17, 3, 999, 4, 5, 50000, 1}, b, t);
        Loss.CrossEntropyResult cpu = Loss.crossEntropyForward(x, targets, IGNORE);
        Tensor gx = pitched(x.to(GPU), pitch, Double.NaN);
        Tensor gt = targets.to(GPU);
        Loss.CrossEntropyResult gpu = Loss.crossEntropyForward(gx, gt, IGNORE);
        CudaTesting.assertClose("losses", cpu.losses(), gpu.losses(), 1e-4);
        Tensor dl = Tensor.of(new double[] {1, 0.5, 2, -1, 0.25, 1, 1, 1, 3, 0.1}, b, t).cast(DType.F32);
        Tensor dCpu = Loss.crossEntropyBackward(dl, x, cpu.lse(), targets, IGNORE);
        Tensor dGpu = Loss.crossEntropyBackward(dl.to(GPU), gx, gpu.lse(), gt, IGNORE);
        assertArrayEquals(new long[] {t * pitch, pitch, 1}, dGpu.strides(), "dlogits keep the logits' pitch");
        CudaTesting.assertClose("dlogits", dCpu, dGpu.contiguous(), 1e-2);
    }
}
