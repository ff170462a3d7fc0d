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
 * order), whether the all-reduces run after the backward pass, overlapped with it (then bit for bit as after it), or
 * overlapped with two micro-batches per rank.
 */
class DataParallelTest {

    @TempDir
    Path dir;

    @Test
    void twoRanksFollowOneProcessWithTheSameGlobalBatch() throws Exception {
        List<String> single = DataParallelRank.train(null, 0, DataParallelRank.Mode.AFTER_BACKWARD);
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
            assertTrue(ranks.get(r).waitFor(180, TimeUnit.SECONDS), "rank " + r + " did not finish");
            assertEquals(0, ranks.get(r).exitValue(), () -> "rank failed: " + log(dir));
        }
        List<List<String>> rank0 = runs(Files.readAllLines(dir.resolve("rank0.txt")));
        List<List<String>> rank1 = runs(Files.readAllLines(dir.resolve("rank1.txt")));
        assertEquals(DataParallelRank.Mode.values().length, rank0.size());
        for (DataParallelRank.Mode mode : DataParallelRank.Mode.values()) {
            List<String> r0 = rank0.get(mode.ordinal());
            assertEquals(DataParallelRank.STEPS + 2, r0.size(), mode.toString());
            // the ranks agree exactly: same mean loss, and identical weights after every step
            assertEquals(r0, rank1.get(mode.ordinal()), mode + ": the ranks differ");
            assertFollows(single, r0, mode.toString());
        }
        // overlapping the all-reduces with the backward adds the same numbers: identical losses and weights
        assertEquals(rank0.get(DataParallelRank.Mode.AFTER_BACKWARD.ordinal()).subList(0, DataParallelRank.STEPS + 1),
                rank0.get(DataParallelRank.Mode.OVERLAPPED.ordinal()).subList(0, DataParallelRank.STEPS + 1),
                "overlapped vs after the backward");
        // where the all-reduces started: none started after the backward path; overlapped, every bucket of every
        // step inside a backward pass (several buckets a step), with two micro-batches the same number (only the
        // second pass reduces)
        assertEquals("started 0 inside backward, 0 outside", startsOf(rank0, DataParallelRank.Mode.AFTER_BACKWARD));
        String overlapped = startsOf(rank0, DataParallelRank.Mode.OVERLAPPED);
        System.out.println("[dp] overlapped, " + DataParallelRank.STEPS + " steps: " + overlapped);
        int inside = Integer.parseInt(overlapped.split(" ")[1]);
        assertTrue(inside >= 3 * DataParallelRank.STEPS && inside % DataParallelRank.STEPS == 0, overlapped);
        assertEquals("started " + inside + " inside backward, 0 outside", overlapped);
        assertEquals(overlapped, startsOf(rank0, DataParallelRank.Mode.OVERLAPPED_TWO_MICRO_BATCHES));
        // and the reference really moved: the steps' losses differ
        assertTrue(!single.get(0).equals(single.get(DataParallelRank.STEPS - 1)));
    }

    private static String startsOf(List<List<String>> runs, DataParallelRank.Mode mode) {
        List<String> run = runs.get(mode.ordinal());
        return run.get(run.size() - 1);
    }

    /** A data-parallel run's losses within 1e-5 relative of one process's, and its weights within 1e-4. */
    private static void assertFollows(List<String> single, List<String> run, String what) {
        for (int s = 0; s < DataParallelRank.STEPS; s++) {
            double expected = Double.parseDouble(single.get(s));
            double got = Double.parseDouble(run.get(s));
            assertEquals(expected, got, 1e-5 * Math.abs(expected), what + ": loss of step " + (s + 1));
        }
        String[] w1 = single.get(DataParallelRank.STEPS).split(" ");
        String[] w2 = run.get(DataParallelRank.STEPS).split(" ");
        assertEquals(w1.length, w2.length);
        for (int i = 0; i < w1.length; i++) {
            assertEquals(Float.parseFloat(w1[i]), Float.parseFloat(w2[i]), 1e-4, what + ": weight " + i);
        }
    }

    /** A rank's output file split into its runs (separated by "--"). */
    private static List<List<String>> runs(List<String> lines) {
        List<List<String>> out = new ArrayList<>();
        List<String> current = new ArrayList<>();
        for (String line : lines) {
            if (line.equals("--")) {
                out.add(current);
                current = new ArrayList<>();
            } else {
                current.add(line);
            }
        }
        return out;
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
