package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.distributed.Collectives;
import ai.fulgur.ops.distributed.Communicator;
import ai.fulgur.ops.distributed.Rendezvous;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NCCL collectives on the GPU: a group of one leaves tensors as they are; with two or more GPUs, ranks as threads
 * (one GPU each) all-reduce to the host sum and broadcast the root's values, in F32 and BF16.
 */
class NcclCommunicatorTest extends GpuTest {

    @TempDir
    Path dir;

    @Test
    void aGroupOfOneKeepsTheValues() {
        System.out.println("[nccl] version " + Nccl.get().version());
        try (Communicator c = Collectives.join(GPU, 0, 1, new Rendezvous(dir, Duration.ofSeconds(30)))) {
            Tensor host = CudaTesting.random(new SplittableRandom(1), DType.F32, -1, 1, 1000);
            Tensor t = host.to(GPU);
            c.allReduceSum(t);
            c.broadcast(t, 0);
            CudaTesting.assertClose("group of one", host, t, 0);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.broadcast(t, 1));
            assertTrue(e.getMessage().contains("root"), e.getMessage());
        }
    }

    @Test
    void ranksOnSeveralGpusSumAndBroadcast() throws Exception {
        int gpus = Backends.deviceCount(Device.Kind.CUDA);
        Assumptions.assumeTrue(gpus >= 2, "one GPU here; the multi-rank case needs two");
        int size = gpus;
        Rendezvous rendezvous = new Rendezvous(dir.resolve("group"), Duration.ofSeconds(60));
        ExecutorService pool = Executors.newFixedThreadPool(size);
        try {
            List<Future<Tensor[]>> futures = new ArrayList<>();
            for (int r = 0; r < size; r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    Device gpu = Device.cuda(rank);
                    try (Communicator c = Collectives.join(gpu, rank, size, rendezvous)) {
                        Tensor f32 = input(rank, DType.F32).to(gpu);
                        Tensor bf16 = input(rank, DType.BF16).to(gpu);
                        Tensor root = input(rank + 10, DType.F32).to(gpu);
                        c.allReduceSum(f32);
                        c.allReduceSum(bf16);
                        c.broadcast(root, size - 1);
                        return new Tensor[] {f32.to(Device.CPU), bf16.to(Device.CPU), root.to(Device.CPU)};
                    }
                }));
            }
            double[] sumF32 = new double[4099];
            double[] sumBf16 = new double[4099];
            for (int r = 0; r < size; r++) {
                double[] a = input(r, DType.F32).toDoubleArray();
                double[] b = input(r, DType.BF16).toDoubleArray();
                for (int i = 0; i < a.length; i++) {
                    sumF32[i] += a[i];
                    sumBf16[i] += b[i];
                }
            }
            for (Future<Tensor[]> f : futures) {
                Tensor[] got = f.get();
                CudaTesting.assertClose("F32 all-reduce", Tensor.of(sumF32, 4099).cast(DType.F32), got[0], 1e-6);
                CudaTesting.assertClose("BF16 all-reduce", Tensor.of(sumBf16, 4099).cast(DType.BF16), got[1], 1e-2);
                CudaTesting.assertClose("broadcast", input(size - 1 + 10, DType.F32), got[2], 0);
                assertEquals(4099, got[0].numel());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static Tensor input(int rank, DType dtype) {
        return CudaTesting.random(new SplittableRandom(100 + rank), dtype, -2, 2, 4099);
    }
}
