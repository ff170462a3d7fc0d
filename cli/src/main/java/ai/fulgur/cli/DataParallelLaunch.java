package ai.fulgur.cli;

import ai.fulgur.ops.distributed.Rendezvous;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * {@code --gpus N} / {@code --processes N}: one process per rank. The command the user ran starts N copies of itself
 * (the same Java runtime, options and arguments) with the rank, the group size and a fresh rendezvous directory in
 * the environment, and waits for them. Rank 0's output is copied to this command's output; the other ranks write logs
 * into the rendezvous directory, shown if a rank fails (then the others are stopped).
 */
final class DataParallelLaunch {
    static final String RANK = "FULGUR_RANK";
    static final String SIZE = "FULGUR_WORLD_SIZE";
    static final String RENDEZVOUS = "FULGUR_RENDEZVOUS";

    private DataParallelLaunch() {
    }

    /** This process's place in a launched group: its rank, the group size and where the ranks meet. */
    record Rank(int rank, int size, Rendezvous rendezvous) {
        boolean isLeader() {
            return rank == 0;
        }
    }

    /** The rank this process was started as, or null when it was not started by a launch. */
    static Rank current() {
        String rank = System.getenv(RANK);
        if (rank == null) {
            return null;
        }
        try {
            int r = Integer.parseInt(rank);
            int size = Integer.parseInt(System.getenv(SIZE));
            return new Rank(r, size, new Rendezvous(Path.of(System.getenv(RENDEZVOUS)), Duration.ofMinutes(5)));
        } catch (RuntimeException e) {
            throw new Args.UsageException("the data-parallel environment is broken (" + RANK + "=" + rank + ", "
                    + SIZE + "=" + System.getenv(SIZE) + ", " + RENDEZVOUS + "=" + System.getenv(RENDEZVOUS)
                    + "): " + e.getMessage());
        }
    }

    /**
     * Starts {@code processes} ranks of the fulgur command {@code commandLine} (command name first) on this Java
     * runtime, with this JVM's options and class path, and waits; returns the worst exit code.
     */
    static int launch(int processes, List<String> commandLine, PrintStream out)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Main.class.getName());
        command.addAll(commandLine);
        Path dir = Files.createTempDirectory("fulgur-dp");
        out.printf("data parallel: starting %d ranks (logs of ranks 1..%d in %s)%n", processes, processes - 1, dir);
        List<Process> ranks = new ArrayList<>();
        Thread echo = null;
        try {
            for (int r = 0; r < processes; r++) {
                ProcessBuilder pb = new ProcessBuilder(command);
                pb.environment().put(RANK, Integer.toString(r));
                pb.environment().put(SIZE, Integer.toString(processes));
                pb.environment().put(RENDEZVOUS, dir.resolve("rendezvous").toString());
                pb.redirectErrorStream(true);
                if (r > 0) {
                    pb.redirectOutput(dir.resolve("rank-" + r + ".log").toFile());
                }
                ranks.add(pb.start());
            }
            Process leader = ranks.get(0);
            echo = Thread.ofPlatform().daemon().start(() -> {
                try (var in = leader.getInputStream()) {
                    byte[] buffer = new byte[8192];
                    for (int n; (n = in.read(buffer)) > 0; ) {
                        out.write(buffer, 0, n);
                        out.flush();
                    }
                } catch (IOException e) {
                    // the rank ended; its exit code tells the rest
                }
            });
            int worst = 0;
            boolean running = true;
            while (running) {
                running = false;
                for (int r = 0; r < processes; r++) {
                    Process p = ranks.get(r);
                    if (p.waitFor(100, TimeUnit.MILLISECONDS)) {
                        if (p.exitValue() != 0 && worst == 0) {
                            worst = p.exitValue();
                            out.printf("data parallel: rank %d failed with exit code %d; stopping the others%n", r,
                                    worst);
                            if (r > 0) {
                                out.println(tail(dir.resolve("rank-" + r + ".log")));
                            }
                            ranks.forEach(Process::destroy);
                        }
                    } else {
                        running = true;
                    }
                }
            }
            echo.join(5000);
            if (worst == 0) {
                deleteTree(dir);
            }
            return worst;
        } finally {
            ranks.forEach(Process::destroy);
        }
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join(System.lineSeparator(), lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
