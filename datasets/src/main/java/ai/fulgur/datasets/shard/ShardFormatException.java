package ai.fulgur.datasets.shard;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A file that should be a token shard cannot be read as one: wrong magic, a version this code does not read, an
 * unknown token type, or fewer bytes than its header promises. The message names the file and what was expected.
 */
public final class ShardFormatException extends IOException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;

    /**
     * @param file the shard file
     * @param problem what is wrong with it
     */
    public ShardFormatException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    /** @return the bad file */
    public Path file() {
        return file;
    }
}
