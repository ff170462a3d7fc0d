package ai.fulgur.training.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.Device;
import ai.fulgur.ops.distributed.Collectives;
import ai.fulgur.ops.distributed.Communicator;
import ai.fulgur.ops.distributed.Rendezvous;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two CPU processes, each with half of every batch, train to the same losses and weights as one process with the
 * whole batch (up to float rounding: the mean of two half-batch means and the averaged gradients add in another
 * order).
 */
class DataParallelTest {

    @TempDir
    Path dir;

    @Test
    void twoRanksFollowOneProcessWithTheSameGlobalBatch() throws Exception {
        List<String> single = DataParallelRank.train(null, 0);
        String java = ProcessHandle.current().info().command().orElse(
                System.getProperty("java.home") + File.separator + "bin" + File.separator + "java");
        List<Process> ranks = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            ranks.add(new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                    "-Dai.djl.offline=true", "--add-modules", "jdk.incubator.vector",
                    DataParallelRank.class.getName(), Integer.toString(r), "2", dir.resolve("rdv").toString(),
                    dir.resolve("rank" + r + ".txt").toString())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("rank" + r + ".log").toFile()).start());
        }
        for (int r = 0; r < 2; r++) {
            assertTrue(ranks.get(r).waitFor(120, TimeUnit.SECONDS), "rank " + r + " did not finish");
            assertEquals(0, ranks.get(r).exitValue(), () -> "rank failed: " + log(dir));
        }
        List<String> rank0 = Files.readAllLines(dir.resolve("rank0.txt"));
        List<String> rank1 = Files.readAllLines(dir.resolve("rank1.txt"));
        assertEquals(DataParallelRank.STEPS + 1, rank0.size());
        // the ranks agree exactly: same mean loss, and identical weights after every step
        assertEquals(rank0, rank1);
        for (int s = 0; s < DataParallelRank.STEPS; s++) {
            double expected = Double.parseDouble(single.get(s));
            double got = Double.parseDouble(rank0.get(s));
            assertEquals(expected, got, 1e-5 * Math.abs(expected), "loss of step " + (s + 1));
        }
        String[] w1 = single.get(DataParallelRank.STEPS).split(" ");
        String[] w2 = rank0.get(DataParallelRank.STEPS).split(" ");
        assertEquals(w1.length, w2.length);
        for (int i = 0; i < w1.length; i++) {
            assertEquals(Float.parseFloat(w1[i]), Float.parseFloat(w2[i]), 1e-4, "weight " + i);
        }
        // and the reference really moved: the steps' losses differ
        assertTrue(!single.get(0).equals(single.get(DataParallelRank.STEPS - 1)));
    }

    @Test
    void aGroupOfOneTakesTheWholeBatch() {
        try (Communicator one = Collectives.join(Device.CPU, 0, 1, new Rendezvous(dir, Duration.ofSeconds(5)))) {
            DataParallel dp = new DataParallel(one);
            assertEquals(7, dp.localBatch(7));
            assertEquals(14, dp.localFirst(14, 7));
            assertTrue(dp.isLeader());
        }
    }

    @Test
    void aBatchThatDoesNotSplitIsRefused() {
        DataParallel dp = new DataParallel(new Communicator() {
            @Override public int rank() { return 1; }
            @Override public int size() { return 2; }
            @Override public void allReduceSum(ai.fulgur.ops.Tensor t) { throw new AssertionError(); }
            @Override public void broadcast(ai.fulgur.ops.Tensor t, int root) { throw new AssertionError(); }
            @Override public void close() { }
        });
        assertEquals(12, dp.localFirst(8, 8));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> dp.localBatch(7));
        assertTrue(e.getMessage().contains("batch of 7 samples does not split evenly over 2"), e.getMessage());
    }

    private static String log(Path dir) {
        StringBuilder b = new StringBuilder();
        for (int r = 0; r < 2; r++) {
            try {
                b.append("rank ").append(r).append(":\n").append(Files.readString(dir.resolve("rank" + r + ".log")));
            } catch (Exception e) {
                b.append(e);
            }
        }
        return b.toString();
    }
}
