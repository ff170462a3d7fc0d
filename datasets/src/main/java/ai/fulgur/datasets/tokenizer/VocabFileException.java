package ai.fulgur.datasets.tokenizer;

import java.io.IOException;

/**
 * A vocabulary file exists but cannot be used: malformed JSON, a merge line that is not two tokens, a token id
 * out of range. The message names the file (a path or a class-path resource) and, where there is one, the line.
 */
public final class VocabFileException extends IOException {

    private static final long serialVersionUID = 1L;

    private final String file;

    /**
     * @param file the file's path or resource name
     * @param problem what is wrong, and where in the file
     */
    public VocabFileException(String file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    /** @return the path or resource name of the bad file */
    public String file() {
        return file;
    }
}
