package ai.fulgur.cuda;

import static ai.fulgur.ops.testing.PitchedTensors.pitched;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.RowPitched;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The split of large misaligned products into aligned ones, on the host (no GPU): {@link AlignedProductSplit} driven
 * with the CPU matmul as its leaf product. Every transpose combination, with and without accumulation, contiguous
 * operands (misaligned row strides: copied) and row-pitched ones (used in place), single-row and single-column
 * products, every product counted as large: the result equals the CPU kernel's on the whole problem, the recursion
 * ends, and every leaf product has aligned row strides (or one row) and m, n, k each a multiple of q or below q.
 */
class AlignedProductSplitTest {
    private static final long Q = 4; // F32: 16 bytes

    /** Runs the split to its leaves on the CPU, recording each leaf product's (m, n, k) and row-stride alignment. */
    private static final class CpuSteps implements AlignedProductSplit.Steps {
        final List<String> leaves = new ArrayList<>();
        final List<String> misalignedLeaves = new ArrayList<>();
        int copies;

        @Override
        public void product(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, double alpha,
                boolean accumulate) {
            if (AlignedProductSplit.apply(this, Q, 0, out, a, b, transA, transB, alpha, accumulate)) {
                return;
            }
            long m = out.shape().dim(1);
            long n = out.shape().dim(2);
            long k = transA ? a.shape().dim(1) : a.shape().dim(2);
            String leaf = m + "x" + n + "x" + k;
            leaves.add(leaf);
            boolean dims = fits(m) && fits(n) && fits(k);
            boolean strides = AlignedProductSplit.rowStrideAligned(a, Q) && AlignedProductSplit.rowStrideAligned(b, Q)
                    && AlignedProductSplit.rowStrideAligned(out, Q);
            if (!dims || !strides) {
                misalignedLeaves.add(leaf);
            }
            Backends.of(Device.CPU).linalg().matmul(out, a, b, transA, transB, alpha, accumulate);
        }

        private static boolean fits(long d) {
            return d % Q == 0 || d < Q;
        }

        @Override
        public Tensor repitched(Tensor t, long pitch, boolean withValues) {
            copies++;
            Tensor p = RowPitched.empty(t.shape(), t.dtype(), t.device(), pitch);
            if (withValues) {
                Elementwise.assign(p, t);
            }
            return p;
        }

        @Override
        public void copy(Tensor dst, Tensor src) {
            Elementwise.assign(dst, src);
        }
    }

    private static Tensor random(SplittableRandom rnd, long... shape) {
        double[] v = new double[Math.toIntExact(Shape.of(shape).numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = rnd.nextDouble(-1, 1);
        }
        return Tensor.of(v, shape).cast(DType.F32);
    }

    @Test
    void splitsToAlignedLeavesWithTheWholeProductsResult() {
        SplittableRandom rnd = new SplittableRandom(9);
        long[][] shapes = {{113, 203, 67}, {1, 203, 67}, {113, 1, 67}, {113, 203, 1}, {9, 5, 7}, {8, 12, 16}};
        for (long[] s : shapes) {
            long m = s[0];
            long n = s[1];
            long k = s[2];
            for (boolean pitchedOperands : new boolean[] {false, true}) {
                for (boolean transA : new boolean[] {false, true}) {
                    for (boolean transB : new boolean[] {false, true}) {
                        for (boolean accumulate : new boolean[] {false, true}) {
                            String what = m + "x" + n + "x" + k + (pitchedOperands ? " pitched" : " contiguous")
                                    + " tA=" + transA + " tB=" + transB + " acc=" + accumulate;
                            Tensor a = random(rnd, 1, transA ? k : m, transA ? m : k);
                            Tensor b = random(rnd, 1, transB ? n : k, transB ? k : n);
                            Tensor c = random(rnd, 1, m, n);
                            Tensor want = c.copy();
                            Backends.of(Device.CPU).linalg().matmul(want, a, b, transA, transB, 0.5, accumulate);
                            if (pitchedOperands) {
                                a = pitched(a, up(a.shape().dim(2)), Double.NaN);
                                b = pitched(b, up(b.shape().dim(2)), Double.NaN);
                                c = pitched(c, up(n), 96);
                            }
                            CpuSteps steps = new CpuSteps();
                            steps.product(c, a, b, transA, transB, 0.5, accumulate);
                            assertTrue(steps.misalignedLeaves.isEmpty(), what + ": misaligned leaf products "
                                    + steps.misalignedLeaves + " of " + steps.leaves);
                            if (pitchedOperands) {
                                assertEquals(0, steps.copies, what + ": row-pitched operands were copied");
                            }
                            double[] got = c.contiguous().toDoubleArray();
                            double[] expected = want.toDoubleArray();
                            for (int i = 0; i < got.length; i++) {
                                assertEquals(expected[i], got[i], 1e-5 * (1 + Math.abs(expected[i])),
                                        what + ": element " + i);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void theHeadsProductsSplitIntoOneAlignedBodyAndOneTail() {
        // GPT-2's forward shape scaled down: (R, 8·k + 1) logits at a padded pitch; body and one tail, nothing copied
        SplittableRandom rnd = new SplittableRandom(10);
        Tensor x = random(rnd, 1, 16, 12);
        Tensor w = random(rnd, 1, 21, 12);
        Tensor logits = pitched(Tensor.zeros(Shape.of(1, 16, 21), DType.F32, Device.CPU), 24, 96);
        CpuSteps steps = new CpuSteps();
        steps.product(logits, x, w, false, true, 1, false);
        assertEquals(List.of("16x20x12", "16x1x12"), steps.leaves);
        assertEquals(0, steps.copies);
    }

    @Test
    void smallBatchedAndAlignedProductsAreLeftAlone() {
        Tensor a = Tensor.zeros(Shape.of(1, 8, 8), DType.F32, Device.CPU);
        Tensor out = Tensor.zeros(Shape.of(1, 8, 8), DType.F32, Device.CPU);
        AlignedProductSplit.Steps none = new CpuSteps();
        assertFalse(AlignedProductSplit.apply(none, Q, 0, out, a, a, false, false, 1, false), "aligned");
        Tensor odd = Tensor.zeros(Shape.of(1, 9, 9), DType.F32, Device.CPU);
        assertFalse(AlignedProductSplit.apply(none, Q, 1000, odd, odd, odd, false, false, 1, false), "small");
        Tensor batched = Tensor.zeros(Shape.of(2, 9, 9), DType.F32, Device.CPU);
        assertFalse(AlignedProductSplit.apply(none, Q, 0, batched, batched, batched, false, false, 1, false),
                "batched");
        assertArrayEquals(new long[] {81, 9, 1}, odd.strides());
    }

    private static long up(long x) {
        return (x + Q - 1) / Q * Q;
    }
}
