package ai.fulgur.ops.distributed;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;

/**
 * How the ranks of a group find each other: rank 0 publishes a few bytes (an NCCL unique id, or the port of the CPU
 * hub) as a file in a directory all ranks can read, written to a temporary name and renamed so that a reader never
 * sees half of it; the other ranks wait for the file.
 *
 * @param directory the shared directory (the launcher creates it, one per run)
 * @param timeout   how long {@link #await} waits before giving up with an error
 */
public record Rendezvous(Path directory, Duration timeout) {
    private static final String FILE = "rank0.id";

    /** Checks the values. */
    public Rendezvous {
        if (directory == null) {
            throw new IllegalArgumentException("the rendezvous directory is null");
        }
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("the rendezvous timeout must be positive, got " + timeout);
        }
    }

    /** Rank 0: makes {@code id} visible to the other ranks. */
    public void publish(byte[] id) {
        try {
            Files.createDirectories(directory);
            Path tmp = directory.resolve(FILE + ".tmp");
            Files.write(tmp, id);
            try {
                Files.move(tmp, directory.resolve(FILE), StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, directory.resolve(FILE), StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot publish the rendezvous id in " + directory, e);
        }
    }

    /** Ranks other than 0: waits for rank 0's id. */
    public byte[] await() {
        Path file = directory.resolve(FILE);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                if (Files.exists(file)) {
                    return Files.readAllBytes(file);
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("rank 0 did not publish its id in " + directory + " within "
                            + timeout.toSeconds() + " s; is rank 0 running with the same rendezvous directory?");
                }
                Thread.sleep(20);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the rendezvous id in " + directory, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for rank 0's id in " + directory, e);
            }
        }
    }
}
