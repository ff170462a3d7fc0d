package ai.fulgur.training.checkpoint;

import java.io.IOException;

/** A checkpoint file or directory that is missing, corrupt, or does not fit the model it is loaded into. */
public class CheckpointException extends IOException {
    private static final long serialVersionUID = 1L;

    /** An exception whose message names the file and what is wrong with it. */
    public CheckpointException(String message) {
        super(message);
    }

    /** The same with the underlying cause. */
    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
