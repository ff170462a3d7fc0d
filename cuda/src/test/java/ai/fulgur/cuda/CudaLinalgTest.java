package ai.fulgur.cuda;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** cuBLASLt matrix products equal the CPU kernel: all transposes, batches, broadcast batches, F32/BF16/F16. */
class CudaLinalgTest extends GpuTest {

    @Test
    void matmulMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(11);
        long[][] sizes = {{1, 1, 1, 1}, {3, 113, 203, 67}, {2, 64, 64, 64}, {1, 257, 129, 31}};
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (long[] s : sizes) {
                long batch = s[0];
                long m = s[1];
                long n = s[2];
                long k = s[3];
                for (boolean transA : new boolean[] {false, true}) {
                    for (boolean transB : new boolean[] {false, true}) {
                        for (boolean broadcastB : new boolean[] {false, true}) {
                            Tensor a = CudaTesting.random(rnd, dtype, -1, 1, batch, transA ? k : m, transA ? m : k);
                            long bb = broadcastB ? 1 : batch;
                            Tensor b = CudaTesting.random(rnd, dtype, -1, 1, bb, transB ? n : k, transB ? k : n);
                            Tensor bView = broadcastB && batch > 1
                                    ? new Tensor(b.storage(), Shape.of(batch, b.shape().dim(1), b.shape().dim(2)),
                                            new long[] {0, b.stride(1), b.stride(2)}, 0)
                                    : b;
                            Tensor cpu = Tensor.zeros(Shape.of(batch, m, n), dtype, Device.CPU);
                            Backends.of(Device.CPU).linalg().matmul(cpu, a, bView, transA, transB, 0.5, false);
                            Tensor gb = b.to(GPU);
                            Tensor gbView = broadcastB && batch > 1
                                    ? new Tensor(gb.storage(), bView.shape(), new long[] {0, gb.stride(1), gb.stride(2)}, 0)
                                    : gb;
                            Tensor gpu = CudaTesting.poisoned(Shape.of(batch, m, n), dtype);
                            Backends.of(GPU).elementwise().fill(gpu, 0);
                            Backends.of(GPU).linalg().matmul(gpu, a.to(GPU), gbView, transA, transB, 0.5, false);
                            double tol = dtype == DType.F32 ? 1e-4 : 2e-2;
                            CudaTesting.assertClose("matmul " + dtype + " " + batch + "x" + m + "x" + n + "x" + k
                                    + " tA=" + transA + " tB=" + transB + " bcastB=" + broadcastB, cpu, gpu, tol);
                        }
                    }
                }
            }
        }
    }

    @Test
    void matmulAccumulates() {
        SplittableRandom rnd = new SplittableRandom(12);
        Tensor a = CudaTesting.random(rnd, DType.F32, -1, 1, 1, 33, 17);
        Tensor b = CudaTesting.random(rnd, DType.F32, -1, 1, 1, 17, 29);
        Tensor c = CudaTesting.random(rnd, DType.F32, -1, 1, 1, 33, 29);
        Tensor cpu = c.copy();
        Backends.of(Device.CPU).linalg().matmul(cpu, a, b, false, false, 1, true);
        Tensor gpu = c.to(GPU);
        Backends.of(GPU).linalg().matmul(gpu, a.to(GPU), b.to(GPU), false, false, 1, true);
        CudaTesting.assertClose("matmul accumulate", cpu, gpu, 1e-4);
    }
}
