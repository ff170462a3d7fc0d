package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.linalg.LinearEpilogue;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Products whose m, n or k is not a multiple of 16 bytes of elements, run on zero-padded copies (the path GPT-2's
 * 50257-token head took before row-pitched operands, kept behind {@code -Dfulgur.cuda.pitchedOperands=false}): equal
 * to the CPU kernel for every transpose, with and without accumulation, and the kernel profiler shows cuBLASLt ran the
 * padded shape.
 */
class CudaPaddedMatmulTest extends GpuTest {
    private long saved;
    private boolean savedPitched;

    @BeforeEach
    void padEveryMisalignedProblem() {
        saved = CudaLinalg.padMisalignedMacs;
        savedPitched = CudaLinalg.pitchedOperands;
        CudaLinalg.padMisalignedMacs = 0;
        CudaLinalg.pitchedOperands = false;
    }

    @AfterEach
    void restore() {
        CudaLinalg.padMisalignedMacs = saved;
        CudaLinalg.pitchedOperands = savedPitched;
    }

    @Test
    void paddedMatmulMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(21);
        long m = 113;
        long n = 203;
        long k = 67;
        for (DType dtype : new DType[] {DType.BF16, DType.F32}) {
            for (boolean transA : new boolean[] {false, true}) {
                for (boolean transB : new boolean[] {false, true}) {
                    for (boolean accumulate : new boolean[] {false, true}) {
                        Tensor a = CudaTesting.random(rnd, dtype, -1, 1, 1, transA ? k : m, transA ? m : k);
                        Tensor b = CudaTesting.random(rnd, dtype, -1, 1, 1, transB ? n : k, transB ? k : n);
                        Tensor c = CudaTesting.random(rnd, dtype, -1, 1, 1, m, n);
                        Tensor cpu = c.copy();
                        Backends.of(Device.CPU).linalg().matmul(cpu, a, b, transA, transB, 0.5, accumulate);
                        Tensor gpu = c.to(GPU);
                        Tensor ga = a.to(GPU);
                        Tensor gb = b.to(GPU);
                        KernelProfiler.start(CudaBackend.device(GPU));
                        KernelProfiler.Report report;
                        try {
                            Backends.of(GPU).linalg().matmul(gpu, ga, gb, transA, transB, 0.5, accumulate);
                        } finally {
                            report = KernelProfiler.stop();
                        }
                        String what = "padded matmul " + dtype + " tA=" + transA + " tB=" + transB + " acc="
                                + accumulate;
                        long q = dtype == DType.BF16 ? 8 : 4;
                        String padded = "cublasLt " + dtype.name().toLowerCase() + " " + (transA ? "T" : "N")
                                + (transB ? "T" : "N") + " " + up(m, q) + "x" + up(n, q) + "x" + up(k, q)
                                + (accumulate ? " +=D" : "");
                        assertNotNull(report.row(padded), what + ": no " + padded + " in " + report.rows());
                        assertEquals(1, report.row(padded).calls(), what);
                        CudaTesting.assertClose(what, cpu, gpu, dtype == DType.F32 ? 1e-4 : 2e-2);
                    }
                }
            }
        }
    }

    @Test
    void paddedLinearWithoutBiasMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(22);
        Tensor x = CudaTesting.random(rnd, DType.BF16, -1, 1, 37, 75);
        Tensor w = CudaTesting.random(rnd, DType.BF16, -1, 1, 201, 75);
        Tensor cpu = Tensor.zeros(Shape.of(37, 201), DType.BF16, Device.CPU);
        Backends.of(Device.CPU).linalg().linear(cpu, x, w, null, LinearEpilogue.NONE, null);
        Tensor gpu = Tensor.zeros(Shape.of(37, 201), DType.BF16, GPU);
        Backends.of(GPU).linalg().linear(gpu, x.to(GPU), w.to(GPU), null, LinearEpilogue.NONE, null);
        CudaTesting.assertClose("padded linear 37x201x75", cpu, gpu, 2e-2);
    }

    private static long up(long x, long q) {
        return (x + q - 1) / q * q;
    }
}
