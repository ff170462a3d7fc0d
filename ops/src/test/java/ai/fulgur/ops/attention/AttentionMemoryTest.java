package ai.fulgur.ops.attention;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.cpu.CpuParallel;
import ai.fulgur.ops.testing.TestTensors;
import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * FlashAttention never materialises the N × N matrix: forward + backward through the {@link Attention} facade at
 * B = 1, H = 1, N = 16384, D = 64 (F32) allocates O(N·D) bytes, far below the 1 GiB that one N × N F32 matrix takes.
 * Bytes are counted over all threads (the fork-join workers included) with the JDK's per-thread allocation counters
 * (com.sun.management.ThreadMXBean#getTotalThreadAllocatedBytes; there is no getTotalThreadAllocatedMemory).
 * The result is checked to be finite and, on a few rows, against a float64 reference computed for those rows only.
 */
class AttentionMemoryTest {
    private static final int N = 16384;
    private static final int D = 64;
    /** Well under N² · 4 bytes = 1 GiB; the kernels need about out + dq + dk + dv + per-task dQ partials. */
    private static final long BOUND = 256L << 20;

    @Test
    void forwardAndBackwardAtN16384AllocateLinearMemory() {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeTrue(threads.isThreadAllocatedMemorySupported(), "per-thread allocation counters unsupported");
        threads.setThreadAllocatedMemoryEnabled(true);

        SplittableRandom rnd = new SplittableRandom(16384);
        Tensor q = TestTensors.normal(rnd, DType.F32, 1, N, 1, D);
        Tensor k = TestTensors.normal(rnd, DType.F32, 1, N, 1, D);
        Tensor v = TestTensors.normal(rnd, DType.F32, 1, N, 1, D);
        Tensor dout = TestTensors.normal(rnd, DType.F32, 1, N, 1, D);
        AttentionSpec spec = AttentionSpec.dense(D);

        // warm up first: until C2 has compiled the kernels, every Vector API operation allocates its result (hundreds
        // of MiB of short-lived garbage at this size), which says nothing about what the algorithm keeps
        for (int i = 0; i < 3; i++) {
            Tensor sq = q.slice(1, 0, 2048);
            Tensor sk = k.slice(1, 0, 2048);
            Tensor sv = v.slice(1, 0, 2048);
            Attention.Forward small = Attention.flashForward(sq, sk, sv, spec);
            Attention.flashBackward(dout.slice(1, 0, 2048), sq, sk, sv, small.out(), small.lse(), spec);
        }

        long before = threads.getTotalThreadAllocatedBytes();
        long t0 = System.nanoTime();
        Attention.Forward fwd = Attention.flashForward(q, k, v, spec);
        long t1 = System.nanoTime();
        long afterForward = threads.getTotalThreadAllocatedBytes();
        Attention.Gradients grads = Attention.flashBackward(dout, q, k, v, fwd.out(), fwd.lse(), spec);
        long t2 = System.nanoTime();
        long bytes = threads.getTotalThreadAllocatedBytes() - before;

        long nd = (long) N * D * 4;
        System.out.printf(Locale.ROOT, "flash attention N=%d D=%d F32 (%d threads): forward %.1f s, backward %.1f s; "
                + "allocated %d bytes = %.1f MiB (forward %.1f MiB), %.1f × N·D·4 bytes; N²·4 bytes would be %d MiB%n",
                N, D, CpuParallel.threads(), (t1 - t0) / 1e9, (t2 - t1) / 1e9, bytes,
                bytes / 1048576.0, (afterForward - before) / 1048576.0, (double) bytes / nd, ((long) N * N * 4) >> 20);
        assertTrue(bytes > 0, "the allocation counter did not move");
        assertTrue(bytes < BOUND, "forward + backward allocated " + bytes + " bytes, bound " + BOUND);

        for (Tensor t : new Tensor[] {fwd.out(), fwd.lse(), grads.dq(), grads.dk(), grads.dv()}) {
            float[] a = t.toFloatArray();
            for (int i = 0; i < a.length; i++) {
                assertTrue(Float.isFinite(a[i]), t + " is not finite at " + i + ": " + a[i]);
            }
        }

        long[] rows = {0, 1, 63, 64, 4097, 8191, 12345, N - 1};
        double[][][] want = AttentionReference.outputRows(q, k, v, spec, rows);
        double[][][] wantDq = AttentionReference.dqRows(q, k, v, dout, spec, rows);
        float[] out = fwd.out().toFloatArray();
        float[] dq = grads.dq().toFloatArray();
        // outputs are convex combinations of v (|v| < 6): 1e-5 absolute; dq sums N terms: 1e-4 of its row's max
        for (int r = 0; r < rows.length; r++) {
            double rowMax = 0;
            for (int c = 0; c < D; c++) {
                rowMax = Math.max(rowMax, Math.abs(wantDq[r][0][c]));
            }
            for (int c = 0; c < D; c++) {
                int at = (int) (rows[r] * D + c);
                double diff = Math.abs(out[at] - want[r][0][c]);
                assertTrue(diff <= 1e-5, "out[" + rows[r] + ", " + c + "] = " + out[at] + ", expected "
                        + want[r][0][c] + " (|diff| " + diff + " > 1e-5)");
                double dqDiff = Math.abs(dq[at] - wantDq[r][0][c]);
                assertTrue(dqDiff <= 1e-4 * rowMax, "dq[" + rows[r] + ", " + c + "] = " + dq[at] + ", expected "
                        + wantDq[r][0][c] + " (|diff| " + dqDiff + " > 1e-4 · row max " + rowMax + ")");
            }
        }
    }
}
