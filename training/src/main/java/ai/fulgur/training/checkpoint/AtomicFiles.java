package ai.fulgur.training.checkpoint;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes a file so that readers see either the old content or the whole new content, never a torn file: the bytes go
 * to a temporary file in the same directory, which is flushed to disk and then renamed over the target.
 */
public final class AtomicFiles {

    /** What writes the content. */
    @FunctionalInterface
    public interface Writer {
        /** Writes the whole content to {@code out}. */
        void write(OutputStream out) throws IOException;
    }

    private AtomicFiles() {
    }

    /** Replaces {@code target} with what {@code writer} writes; on failure the target is untouched. */
    public static void write(Path target, Writer writer) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE);
                    OutputStream out = new java.io.BufferedOutputStream(
                            java.nio.channels.Channels.newOutputStream(channel), 1 << 20)) {
                writer.write(out);
                out.flush();
                channel.force(true); // the rename must not become visible before the data
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot replace " + target + " atomically on this file system", e);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** What fills a directory. */
    @FunctionalInterface
    public interface DirectoryWriter {
        /** Writes every file of the directory into {@code dir}, which exists and is empty. */
        void write(Path dir) throws IOException;
    }

    /**
     * Replaces the directory {@code target} with one that {@code writer} fills: the files go to a sibling
     * {@code <name>.partial}, then the old directory is renamed to {@code <name>.old}, the new one into place, and the
     * old one deleted. At every moment one complete directory exists ({@code <name>} or, after a crash between the two
     * renames, {@code <name>.old}); a failed write leaves {@code target} untouched.
     */
    public static void replaceDirectory(Path target, DirectoryWriter writer) throws IOException {
        Path abs = target.toAbsolutePath().normalize();
        Files.createDirectories(abs.getParent());
        Path partial = abs.resolveSibling(abs.getFileName() + ".partial");
        Path old = abs.resolveSibling(abs.getFileName() + ".old");
        deleteTree(partial);
        Files.createDirectory(partial);
        try {
            writer.write(partial);
        } catch (IOException | RuntimeException e) {
            deleteTree(partial);
            throw e;
        }
        deleteTree(old);
        if (Files.exists(abs)) {
            Files.move(abs, old, StandardCopyOption.ATOMIC_MOVE);
        }
        Files.move(partial, abs, StandardCopyOption.ATOMIC_MOVE);
        deleteTree(old);
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /** Replaces {@code target} with {@code bytes} atomically. */
    public static void write(Path target, byte[] bytes) throws IOException {
        write(target, out -> out.write(bytes));
    }
}
