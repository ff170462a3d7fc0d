package ai.fulgur.ops.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Tensor;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CPU group, ranks as threads: all-reduce equals the float64 sum in rank order, broadcast copies the root. */
class CpuCommunicatorTest {

    @TempDir
    Path dir;

    /** Runs {@code work} as every rank of a group of {@code size}, each in its own thread; returns their results. */
    private <T> List<T> asRanks(int size, BiFunction<Communicator, Integer, T> work) throws Exception {
        Rendezvous rendezvous = new Rendezvous(dir.resolve("group"), Duration.ofSeconds(20));
        ExecutorService pool = Executors.newFixedThreadPool(size);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < size; r++) {
                int rank = r;
                futures.add(pool.submit(() -> {
                    try (Communicator c = Collectives.join(Device.CPU, rank, size, rendezvous)) {
                        assertEquals(rank, c.rank());
                        assertEquals(size, c.size());
                        return work.apply(c, rank);
                    }
                }));
            }
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get());
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }

    private static float[] values(int rank, int n) {
        Random random = new Random(100 + rank);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return v;
    }

    @Test
    void allReduceSumsEveryRankInRankOrder() throws Exception {
        int size = 3;
        int n = 1000;
        List<float[]> results = asRanks(size, (c, rank) -> {
            Tensor t = Tensor.of(values(rank, n), 10, 100);
            c.allReduceSum(t);
            Tensor second = Tensor.of(new float[] {rank, 2 * rank}, 2);
            c.allReduceSum(second);
            assertArrayEquals(new float[] {3, 6}, second.toFloatArray());
            return t.toFloatArray();
        });
        float[] expected = new float[n];
        for (int i = 0; i < n; i++) {
            double sum = 0;
            for (int r = 0; r < size; r++) {
                sum += values(r, n)[i];
            }
            expected[i] = (float) sum;
        }
        for (float[] r : results) {
            assertArrayEquals(expected, r);
        }
    }

    @Test
    void broadcastCopiesTheRootOnEveryRank() throws Exception {
        List<float[]> results = asRanks(3, (c, rank) -> {
            Tensor t = Tensor.of(values(rank, 50), 50);
            c.broadcast(t, 2);
            return t.toFloatArray();
        });
        for (float[] r : results) {
            assertArrayEquals(values(2, 50), r);
        }
    }

    @Test
    void aGroupOfOneLeavesTheTensor() throws Exception {
        List<float[]> results = asRanks(1, (c, rank) -> {
            Tensor t = Tensor.of(values(0, 5), 5);
            c.allReduceSum(t);
            c.broadcast(t, 0);
            return t.toFloatArray();
        });
        assertArrayEquals(values(0, 5), results.get(0));
    }

    @Test
    void mismatchedCallsAreNamed() throws Exception {
        Exception e = assertThrows(Exception.class, () -> asRanks(2, (c, rank) -> {
            c.allReduceSum(Tensor.of(new float[rank == 0 ? 4 : 5], rank == 0 ? 4 : 5));
            return null;
        }));
        assertTrue(String.valueOf(e.getCause()).contains("rank 1 called allReduceSum of 5 elements"), e.toString());
    }

    @Test
    void badRanksAndTimeoutsAreNamed() {
        Rendezvous r = new Rendezvous(dir.resolve("none"), Duration.ofMillis(100));
        assertThrows(IllegalArgumentException.class, () -> Collectives.join(Device.CPU, 2, 2, r));
        assertThrows(IllegalArgumentException.class, () -> Collectives.join(Device.CPU, 0, 0, r));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Collectives.join(Device.CPU, 1, 2, r));
        assertTrue(e.getMessage().contains("rank 0 did not publish"), e.getMessage());
        try (Communicator one = Collectives.join(Device.CPU, 0, 1, r)) {
            Tensor transposed = Tensor.zeros(ai.fulgur.ops.Shape.of(2, 3), DType.F32, Device.CPU).transpose(0, 1);
            IllegalArgumentException t = assertThrows(IllegalArgumentException.class,
                    () -> one.allReduceSum(transposed));
            assertTrue(t.getMessage().contains("contiguous"), t.getMessage());
        }
    }
}
