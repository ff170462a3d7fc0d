package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The kernel profiler counts exactly the work launched in its window, and its times fit inside the window. */
class KernelProfilerTest extends GpuTest {

    @Test
    void countsAKnownSequenceOfLaunchesByName() {
        CudaDevice d = CudaBackend.device(GPU);
        SplittableRandom rnd = new SplittableRandom(3);
        // everything allocated before the window: a new tensor's zero-fill is profiled work too
        Tensor a = CudaTesting.random(rnd, DType.BF16, -1, 1, 1, 512, 256).to(GPU);
        Tensor b = CudaTesting.random(rnd, DType.BF16, -1, 1, 1, 256, 384).to(GPU);
        Tensor out = Tensor.zeros(Shape.of(1, 512, 384), DType.BF16, GPU);
        Tensor copy = Tensor.zeros(Shape.of(1, 512, 384), DType.BF16, GPU);
        Tensor big = Tensor.zeros(Shape.of(1 << 22), DType.F32, GPU);
        var gpu = Backends.of(GPU);
        gpu.linalg().matmul(out, a, b, false, false, 1, false); // builds and tunes the plan outside the window
        d.synchronize();

        KernelProfiler.start(d);
        assertTrue(KernelProfiler.isActive());
        for (int i = 0; i < 3; i++) {
            gpu.elementwise().fill(big, i);
        }
        gpu.linalg().matmul(out, a, b, false, false, 1, false);
        gpu.linalg().matmul(out, a, b, false, false, 0.5, true);
        gpu.elementwise().copy(copy, out);
        KernelProfiler.Report report = KernelProfiler.stop();
        assertFalse(KernelProfiler.isActive());
        System.out.print(report.format(10));

        assertEquals(4, report.rows().size(), "names: " + report.rows());
        assertEquals(3, report.row("fill_f64").calls());
        assertEquals(1, report.row("cublasLt bf16 NN 512x384x256").calls(), "rows: " + report.rows());
        assertEquals(1, report.row("cublasLt bf16 NN 512x384x256 +=D").calls(), "rows: " + report.rows());
        assertEquals(1, report.row("memcpy DtoD").calls());
        assertEquals(6, report.calls());
        assertEquals(0, report.driverAllocations(), "nothing allocated inside the window");
        for (KernelProfiler.Row r : report.rows()) {
            assertTrue(r.totalMillis() > 0, r.name() + " took no time: " + r.totalMillis());
        }
        assertTrue(report.profiledMillis() <= report.windowMillis(),
                "summed kernel time " + report.profiledMillis() + " ms exceeds the window " + report.windowMillis());
        // three fills of 16 MiB each write at least 48 MiB: more than 1 µs even at 10 TB/s
        assertTrue(report.row("fill_f64").totalMillis() > 1e-3);
        // the fill ran
        assertEquals(2.0, big.toDoubleArray()[12345], 0);
    }

    @Test
    void aSecondWindowReusesEventsAndSeesOnlyItsOwnWork() {
        CudaDevice d = CudaBackend.device(GPU);
        Tensor t = Tensor.zeros(Shape.of(1000), DType.F32, GPU);
        Backends.of(GPU).elementwise().fill(t, 7); // outside any window
        KernelProfiler.start(d);
        Backends.of(GPU).elementwise().fill(t, 1);
        Backends.of(GPU).elementwise().fill(t, 2);
        KernelProfiler.Report first = KernelProfiler.stop();
        Backends.of(GPU).elementwise().fill(t, 3); // between windows
        KernelProfiler.start(d);
        Tensor fresh = Tensor.zeros(Shape.of(10), DType.F32, GPU); // a new tensor: zero-filled by a memset
        Backends.of(GPU).elementwise().fill(fresh, 4);
        KernelProfiler.Report second = KernelProfiler.stop();

        assertEquals(List.of("fill_f64"), first.rows().stream().map(KernelProfiler.Row::name).toList());
        assertEquals(2, first.calls());
        assertEquals(2, second.calls(), "rows: " + second.rows());
        assertEquals(1, second.row("fill_f64").calls());
        assertNotNull(second.row("memset (zero-fill of a new tensor)"), "rows: " + second.rows());
    }

    @Test
    void windowsMustBeOpenedAndClosedInOrder() {
        CudaDevice d = CudaBackend.device(GPU);
        IllegalStateException e = assertThrows(IllegalStateException.class, KernelProfiler::stop);
        assertTrue(e.getMessage().contains("without start"), e.getMessage());
        KernelProfiler.start(d);
        try {
            e = assertThrows(IllegalStateException.class, () -> KernelProfiler.start(d));
            assertTrue(e.getMessage().contains("already open"), e.getMessage());
        } finally {
            KernelProfiler.stop();
        }
    }
}
