package ai.fulgur.datasets.tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds tinyshakespeare.txt for tests: -Dfulgur.tinyshakespeare=PATH, else shared/data/ beside the repository. Public
 * for the shard and dataset tests.
 */
public final class TinyShakespeare {

    public static final String HINT = "set -Dfulgur.tinyshakespeare=PATH or put it at ../shared/data/tinyshakespeare.txt "
            + "beside the repository";

    private TinyShakespeare() {
    }

    /** @return the file, or null when it is not on this machine */
    public static Path find() {
        String property = System.getProperty("fulgur.tinyshakespeare");
        if (property != null) {
            return Path.of(property);
        }
        Path here = Path.of("").toAbsolutePath();
        for (Path dir = here; dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared/data/tinyshakespeare.txt");
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        return null;
    }
}
