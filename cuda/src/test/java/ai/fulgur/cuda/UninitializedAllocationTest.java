package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import org.junit.jupiter.api.Test;

/**
 * {@link Tensor#empty} on CUDA skips the zero-fill that {@link Tensor#zeros} makes (a memset per tensor, 7.5 ms of a
 * GPT-2 124M bf16 step at B 8 before), and the outputs built on it are still fully written.
 */
class UninitializedAllocationTest extends GpuTest {

    @Test
    void emptyLaunchesNothingAndZerosOneFill() {
        CudaDevice d = CudaBackend.device(GPU);
        KernelProfiler.start(d);
        Tensor.empty(Shape.of(1000), DType.F32, GPU);
        KernelProfiler.Report empty = KernelProfiler.stop();
        assertEquals(0, empty.calls(), "rows: " + empty.rows());

        KernelProfiler.start(d);
        Tensor z = Tensor.zeros(Shape.of(1000), DType.F32, GPU);
        KernelProfiler.Report zeros = KernelProfiler.stop();
        assertEquals(1, zeros.calls(), "rows: " + zeros.rows());
        assertEquals(1, zeros.row("memset (zero-fill of a new tensor)").calls());
        assertArrayEquals(new double[1000], z.toDoubleArray());
    }

    @Test
    void copiesAndCastsWriteEveryElementOfTheirUninitialisedOutput() {
        // copy and cast write into Tensor.empty outputs: every element must come back equal to its source
        double[] values = new double[4096];
        for (int i = 0; i < values.length; i++) {
            values[i] = i * 0.25 - 100;
        }
        Tensor host = Tensor.of(values, 4096);
        Tensor onGpu = host.cast(DType.F32).to(GPU);
        assertArrayEquals(host.cast(DType.F32).toDoubleArray(), onGpu.copy().toDoubleArray());
        assertArrayEquals(host.cast(DType.BF16).toDoubleArray(), onGpu.cast(DType.BF16).toDoubleArray());
    }
}
