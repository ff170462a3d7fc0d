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
import ai.fulgur.ops.distributed.PendingCollective;
import ai.fulgur.ops.distributed.Rendezvous;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.elementwise.UnaryOp;
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
 * (one GPU each) all-reduce to the host sum and broadcast the root's values, in F32 and BF16; started (overlapped)
 * sums wait for their producers, run beside the stream and are ordered before the work queued after their await.
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

    @Test
    void startedSumsOverlapTheStreamAndAwaitOrdersThem() throws Exception {
        int gpus = Backends.deviceCount(Device.Kind.CUDA);
        int size = Math.min(gpus, 2); // one GPU: a group of one still runs the stream and event path
        Rendezvous rendezvous = new Rendezvous(dir.resolve("started"), Duration.ofSeconds(60));
        ExecutorService pool = Executors.newFixedThreadPool(size);
        int n = 1 << 22; // 16 MB per bucket: long enough that a missing wait would be caught mid-sum
        try {
            List<Future<Tensor[]>> futures = new ArrayList<>();
            for (int r = 0; r < size; r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    Device gpu = Device.cuda(rank);
                    try (Communicator c = Collectives.join(gpu, rank, size, rendezvous)) {
                        Tensor a = CudaTesting.random(new SplittableRandom(200 + rank), DType.F32, -1, 1, n).to(gpu);
                        Tensor busy = CudaTesting.random(new SplittableRandom(7), DType.F32, -1, 1, 1024, 1024)
                                .to(gpu);
                        // the producer of each bucket is queued behind a long stretch of unrelated work
                        for (int i = 0; i < 20; i++) {
                            busy = ai.fulgur.ops.linalg.Linalg.matmul(busy, busy);
                            busy = Elementwise.mulScalar(busy, 1e-3);
                        }
                        Tensor first = Elementwise.mulScalar(a, 3);
                        PendingCollective p1 = c.startAllReduceSum(first);
                        Tensor second = Elementwise.mulScalar(a, -2);
                        PendingCollective p2 = c.startAllReduceSum(second);
                        Tensor loss = Elementwise.addScalar(a, 5);
                        c.allReduceSum(loss); // a blocking one between the started ones
                        p2.await();
                        p1.await();
                        p1.await(); // a second await does nothing more
                        Elementwise.unaryInPlace(UnaryOp.ADD_SCALAR, first, 1);
                        Elementwise.unaryInPlace(UnaryOp.ADD_SCALAR, second, 1);
                        return new Tensor[] {first.to(Device.CPU), second.to(Device.CPU), loss.to(Device.CPU)};
                    }
                }));
            }
            double[] sum = new double[n];
            for (int r = 0; r < size; r++) {
                double[] a = CudaTesting.random(new SplittableRandom(200 + r), DType.F32, -1, 1, n).toDoubleArray();
                for (int i = 0; i < n; i++) {
                    sum[i] += a[i];
                }
            }
            double[] first = new double[n];
            double[] second = new double[n];
            double[] loss = new double[n];
            for (int i = 0; i < n; i++) {
                first[i] = 3 * sum[i] + 1;
                second[i] = -2 * sum[i] + 1;
                loss[i] = sum[i] + 5 * size;
            }
            for (Future<Tensor[]> f : futures) {
                Tensor[] got = f.get();
                CudaTesting.assertClose("started sum, awaited last", Tensor.of(first, n).cast(DType.F32), got[0], 1e-5);
                CudaTesting.assertClose("started sum, awaited first", Tensor.of(second, n).cast(DType.F32), got[1],
                        1e-5);
                CudaTesting.assertClose("blocking sum between", Tensor.of(loss, n).cast(DType.F32), got[2], 1e-5);
            }
            System.out.println("[nccl] started all-reduce over " + size + " rank(s): 3 x " + n + " floats match");
        } finally {
            pool.shutdownNow();
        }
    }

    private static Tensor input(int rank, DType dtype) {
        return CudaTesting.random(new SplittableRandom(100 + rank), dtype, -2, 2, 4099);
    }
}
