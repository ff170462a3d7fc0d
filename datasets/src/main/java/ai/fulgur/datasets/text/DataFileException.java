package ai.fulgur.datasets.text;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A data file exists but cannot be read as labeled text: empty, a missing column, a malformed CSV record or JSON
 * line. The message names the file and, where there is one, the line.
 */
public final class DataFileException extends IOException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;

    /**
     * @param file the bad file
     * @param problem what is wrong, and where
     */
    public DataFileException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    /** @return the bad file */
    public Path file() {
        return file;
    }
}
