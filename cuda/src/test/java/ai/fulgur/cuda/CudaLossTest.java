package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Fused cross-entropy on the GPU equals the CPU kernel: fresh random logits, rows and vocabularies that divide nothing
 * (V = 50257, GPT-2's padded 50304, odd row counts), ignored rows, I32 and I64 targets, logits at an offset that
 * breaks 16-byte alignment, outputs poisoned first.
 */
class CudaLossTest extends GpuTest {
    private static final long IGNORE = -100;
    // 200003: each of 512 threads takes several chunks of 4 packs plus a remainder of fewer packs
    private static final long[][] SIZES = {{1, 1}, {7, 13}, {33, 1000}, {67, 50257}, {5, 50304}, {3, 4099},
        {2, 200003}};

    /** A device copy of host {@code t} that starts {@code pad} elements into its storage (pad 0: a plain upload). */
    static Tensor onGpuAt(Tensor t, int pad) {
        if (pad == 0) {
            return t.to(GPU);
        }
        Tensor big = Tensor.zeros(Shape.of(t.numel() + pad), t.dtype(), GPU);
        Tensor view = big.slice(0, pad, pad + t.numel()).reshape(t.shape());
        Elementwise.assign(view, t.to(GPU));
        return view;
    }

    /** Random targets in [0, v), about one in eight the ignore index. */
    private static Tensor targets(SplittableRandom rnd, long rows, long v, DType type) {
        long[] t = new long[(int) rows];
        for (int i = 0; i < t.length; i++) {
            t[i] = rnd.nextInt(8) == 0 ? IGNORE : rnd.nextLong(v);
        }
        Tensor host = Tensor.of(t, rows);
        return type == DType.I64 ? host : host.cast(type);
    }

    @Test
    void forwardAndBackwardMatchCpu() {
        SplittableRandom rnd = new SplittableRandom(21);
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16, DType.F64}) {
            DType outType = dtype.isHalf() ? DType.F32 : dtype;
            for (long[] s : SIZES) {
                long r = s[0];
                long v = s[1];
                for (int pad : new int[] {0, 3}) {
                    DType targetType = pad == 0 ? DType.I64 : DType.I32;
                    String what = dtype + " R=" + r + " V=" + v + " pad=" + pad + " targets " + targetType;
                    Tensor logits = CudaTesting.random(rnd, dtype, -6, 6, r, v);
                    Tensor t = targets(rnd, r, v, targetType);

                    Tensor losses = Tensor.zeros(Shape.of(r), outType, Device.CPU);
                    Tensor lse = Tensor.zeros(Shape.of(r), outType, Device.CPU);
                    Backends.of(Device.CPU).loss().crossEntropyForward(losses, lse, logits, t, IGNORE);
                    Tensor gLosses = CudaTesting.poisoned(Shape.of(r), outType);
                    Tensor gLse = CudaTesting.poisoned(Shape.of(r), outType);
                    Tensor gLogits = onGpuAt(logits, pad);
                    Tensor gt = t.to(GPU);
                    Backends.of(GPU).loss().crossEntropyForward(gLosses, gLse, gLogits, gt, IGNORE);
                    double tol = dtype == DType.F64 ? 1e-12 : 1e-5; // F32 outputs for F32 and half logits
                    CudaTesting.assertClose("crossEntropy losses " + what, losses, gLosses, tol);
                    CudaTesting.assertClose("crossEntropy lse " + what, lse, gLse, tol);

                    Tensor dlosses = CudaTesting.random(rnd, outType, -2, 2, r);
                    Tensor dlogits = Tensor.zeros(Shape.of(r, v), dtype, Device.CPU);
                    Backends.of(Device.CPU).loss().crossEntropyBackward(dlogits, dlosses, logits, lse, t, IGNORE);
                    Tensor gDlogits = CudaTesting.poisoned(Shape.of(r, v), dtype);
                    Backends.of(GPU).loss().crossEntropyBackward(gDlogits, dlosses.to(GPU), gLogits, lse.to(GPU), gt,
                            IGNORE);
                    CudaTesting.assertClose("crossEntropy dlogits " + what, dlogits, gDlogits,
                            dtype == DType.F64 ? 1e-12 : CudaTesting.tolerance(dtype));
                }
            }
        }
    }

    @Test
    void maskedLogitsMatchCpu() {
        // -inf logits (masked positions), a third of them and whole runs of them at the start of rows, so that some
        // threads see only -inf in their first chunks: the running max starts at -inf and must add nothing
        SplittableRandom rnd = new SplittableRandom(24);
        for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
            DType outType = dtype.isHalf() ? DType.F32 : dtype;
            for (long[] s : new long[][] {{9, 50257}, {4, 4099}, {3, 37}}) {
                long r = s[0];
                long v = s[1];
                double[] x = new double[(int) (r * v)];
                long[] t = new long[(int) r];
                for (int i = 0; i < r; i++) {
                    t[i] = v - 1 - rnd.nextLong(Math.max(1, v / 4)); // targets in the unmasked last quarter
                    for (int j = 0; j < v; j++) {
                        boolean masked = j < v / 2 ? rnd.nextInt(8) != 0 : rnd.nextInt(3) == 0;
                        double value = -5 + 10 * rnd.nextDouble();
                        x[(int) (i * v + j)] = masked && j != t[i] ? Double.NEGATIVE_INFINITY : value;
                    }
                }
                Tensor logits = Tensor.of(x, r, v).cast(dtype);
                Tensor targets = Tensor.of(t, r);
                Tensor losses = Tensor.zeros(Shape.of(r), outType, Device.CPU);
                Tensor lse = Tensor.zeros(Shape.of(r), outType, Device.CPU);
                Backends.of(Device.CPU).loss().crossEntropyForward(losses, lse, logits, targets, IGNORE);
                Tensor gLosses = CudaTesting.poisoned(Shape.of(r), outType);
                Tensor gLse = CudaTesting.poisoned(Shape.of(r), outType);
                Tensor gLogits = logits.to(GPU);
                Backends.of(GPU).loss().crossEntropyForward(gLosses, gLse, gLogits, targets.to(GPU), IGNORE);
                String what = "masked " + dtype + " R=" + r + " V=" + v;
                CudaTesting.assertClose("crossEntropy losses " + what, losses, gLosses, 1e-5);
                CudaTesting.assertClose("crossEntropy lse " + what, lse, gLse, 1e-5);
                Tensor dlosses = CudaTesting.random(rnd, outType, -2, 2, r);
                Tensor dlogits = Tensor.zeros(Shape.of(r, v), dtype, Device.CPU);
                Backends.of(Device.CPU).loss().crossEntropyBackward(dlogits, dlosses, logits, lse, targets, IGNORE);
                Tensor gDlogits = CudaTesting.poisoned(Shape.of(r, v), dtype);
                Backends.of(GPU).loss().crossEntropyBackward(gDlogits, dlosses.to(GPU), gLogits, lse.to(GPU),
                        targets.to(GPU), IGNORE);
                CudaTesting.assertClose("crossEntropy dlogits " + what, dlogits, gDlogits,
                        CudaTesting.tolerance(dtype));
            }
        }
    }

    @Test
    void backwardRowsSumToZeroAndTargetsGetPMinusOne() {
        // softmax − onehot sums to 0 over a row: checks the recomputed probabilities independently of the CPU kernel
        SplittableRandom rnd = new SplittableRandom(22);
        long r = 9;
        long v = 50257;
        Tensor logits = CudaTesting.random(rnd, DType.F32, -8, 8, r, v).to(GPU);
        long[] t = new long[(int) r];
        for (int i = 0; i < t.length; i++) {
            t[i] = rnd.nextLong(v);
        }
        Tensor targets = Tensor.of(t, r).to(GPU);
        Tensor losses = CudaTesting.poisoned(Shape.of(r), DType.F32);
        Tensor lse = CudaTesting.poisoned(Shape.of(r), DType.F32);
        Backends.of(GPU).loss().crossEntropyForward(losses, lse, logits, targets, IGNORE);
        Tensor ones = Tensor.of(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 1}, r).to(GPU);
        Tensor d = CudaTesting.poisoned(Shape.of(r, v), DType.F32);
        Backends.of(GPU).loss().crossEntropyBackward(d, ones, logits, lse, targets, IGNORE);
        double[] dv = d.toDoubleArray();
        for (int i = 0; i < r; i++) {
            double sum = 0;
            for (int j = 0; j < v; j++) {
                sum += dv[(int) (i * v + j)];
            }
            assertEquals(0, sum, 1e-4, "row " + i + " of softmax − onehot sums to " + sum);
            assertTrue(dv[(int) (i * v + t[i])] < 0, "row " + i + ": the target's gradient p − 1 must be negative");
        }
    }

    @Test
    void outOfRangeTargetGivesNaNWithoutReadingOutOfBounds() {
        SplittableRandom rnd = new SplittableRandom(23);
        long r = 4;
        long v = 37;
        Tensor logits = CudaTesting.random(rnd, DType.F32, -1, 1, r, v).to(GPU);
        Tensor targets = Tensor.of(new long[] {3, v, -5, IGNORE}, r).to(GPU);
        Tensor losses = CudaTesting.poisoned(Shape.of(r), DType.F32);
        Tensor lse = CudaTesting.poisoned(Shape.of(r), DType.F32);
        Backends.of(GPU).loss().crossEntropyForward(losses, lse, logits, targets, IGNORE);
        double[] l = losses.toDoubleArray();
        assertTrue(Double.isFinite(l[0]), "in-range row: finite loss, got " + l[0]);
        assertTrue(Double.isNaN(l[1]), "target = V: NaN loss, got " + l[1]);
        assertTrue(Double.isNaN(l[2]), "negative target: NaN loss, got " + l[2]);
        assertEquals(0, l[3], 0, "ignored row: loss 0");
        for (double e : lse.toDoubleArray()) {
            assertTrue(Double.isFinite(e), "lse is written for every row, got " + e);
        }
        Tensor d = CudaTesting.poisoned(Shape.of(r, v), DType.F32);
        Tensor ones = Tensor.of(new float[] {1, 1, 1, 1}, r).to(GPU);
        Backends.of(GPU).loss().crossEntropyBackward(d, ones, logits, lse, targets, IGNORE);
        double[] dv = d.toDoubleArray();
        for (int j = 0; j < v; j++) {
            assertTrue(Double.isFinite(dv[j]), "in-range row gradient");
            assertTrue(Double.isNaN(dv[(int) (v + j)]) && Double.isNaN(dv[(int) (2 * v + j)]), "bad rows are NaN");
            assertEquals(0, dv[(int) (3 * v + j)], 0, "ignored row gradient is 0");
        }
        CudaBackend.device(GPU).synchronize(); // no asynchronous fault left behind
    }
}
