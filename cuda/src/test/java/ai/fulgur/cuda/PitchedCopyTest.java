package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Which layouts are row-pitched (host-side, no GPU), and, on the GPU, that a copy between two of them (a column slice,
 * the corner of a padded buffer) goes through one driver 2-D copy (-Dfulgur.cuda.pitchedCopies, on for the test) and
 * equals the CPU copy.
 */
class PitchedCopyTest {

    @Test
    void rowsAndPitchOfLayouts() {
        Tensor t = Tensor.zeros(Shape.of(4, 6, 10), DType.F32, Device.CPU);
        assertArrayEquals(new long[] {24, 10}, CudaElementwise.rowsAndPitch(t), "contiguous: rows of 10");
        assertArrayEquals(new long[] {24, 10}, CudaElementwise.rowsAndPitch(t.slice(2, 2, 9)), "column slice");
        assertArrayEquals(new long[] {1, 10}, CudaElementwise.rowsAndPitch(t.slice(0, 1, 2).slice(1, 3, 4)),
                "one row");
        assertArrayEquals(new long[] {8, 10}, CudaElementwise.rowsAndPitch(t.slice(0, 0, 4).slice(1, 0, 2)
                .reshape(-1, 10).slice(0, 0, 8)), "contiguous rows");
        assertNull(CudaElementwise.rowsAndPitch(t.slice(1, 0, 3)), "rows 3..5 of each matrix skipped: two strides");
        assertNull(CudaElementwise.rowsAndPitch(t.transpose(1, 2)), "last stride not 1");
        assertNull(CudaElementwise.rowsAndPitch(t.slice(2, 0, 1)), "one column");
        Tensor padded = Tensor.zeros(Shape.of(1, 50, 608), DType.BF16, Device.CPU);
        Tensor corner = new Tensor(padded.storage(), Shape.of(1, 37, 600), new long[] {50 * 608, 608, 1}, 0);
        assertArrayEquals(new long[] {37, 608}, CudaElementwise.rowsAndPitch(corner), "padded corner");
    }

    /** Tagged gpu through {@link GpuTest}. */
    static class OnTheGpu extends GpuTest {
        @Test
        void copiesIntoAndOutOfPitchedLayoutsAsOne2dCopy() {
            boolean saved = CudaElementwise.pitchedCopies;
            CudaElementwise.pitchedCopies = true;
            try {
                check();
            } finally {
                CudaElementwise.pitchedCopies = saved;
            }
        }

        private void check() {
            SplittableRandom rnd = new SplittableRandom(41);
            CudaDevice d = CudaBackend.device(GPU);
            // a corner of a padded bf16 buffer (rows of 1200 bytes in a pitch of 1216), both directions
            Tensor src = CudaTesting.random(rnd, DType.BF16, -2, 2, 1, 37, 600);
            Tensor padded = Tensor.zeros(Shape.of(1, 40, 608), DType.BF16, GPU);
            Tensor corner = new Tensor(padded.storage(), Shape.of(1, 37, 600), new long[] {40 * 608, 608, 1}, 0);
            KernelProfiler.start(d);
            Backends.of(GPU).elementwise().copy(corner, src.to(GPU));
            Tensor back = Tensor.zeros(Shape.of(1, 37, 600), DType.BF16, GPU);
            Backends.of(GPU).elementwise().copy(back, corner);
            KernelProfiler.Report report = KernelProfiler.stop();
            assertEquals(2, report.row("memcpy2D DtoD").calls(), "rows: " + report.rows());
            CudaTesting.assertClose("padded corner round trip", src, back, 0);
            double[] all = padded.toDoubleArray();
            for (int r = 0; r < 40; r++) {
                for (int c = 0; c < 608; c++) {
                    double expected = r < 37 && c < 600 ? src.toDoubleArray()[r * 600 + c] : 0;
                    if (all[r * 608 + c] != expected) {
                        throw new AssertionError("padded[" + r + ", " + c + "] = " + all[r * 608 + c] + ", expected "
                                + expected + " (the padding must stay untouched)");
                    }
                }
            }
            // an F32 column slice (rows of 1200 bytes at a pitch of 3600) from a contiguous source, against the CPU
            Tensor cols = CudaTesting.random(rnd, DType.F32, -2, 2, 50, 300);
            Tensor wideCpu = CudaTesting.random(rnd, DType.F32, -2, 2, 50, 900);
            Tensor wideGpu = wideCpu.to(GPU);
            Backends.of(Device.CPU).elementwise().copy(wideCpu.slice(1, 300, 600), cols);
            Backends.of(GPU).elementwise().copy(wideGpu.slice(1, 300, 600), cols.to(GPU));
            CudaTesting.assertClose("column slice", wideCpu, wideGpu, 0);
        }
    }
}
