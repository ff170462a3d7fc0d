package ai.fulgur.ops;

/**
 * An operation that cannot be recorded into a {@link DeviceGraph}: a host read, a device synchronisation, or a
 * value that would be baked into the graph (a random-number offset). The message names the operation and where it
 * was called from. The capture is abandoned; nothing recorded ran.
 */
public final class GraphCaptureException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public GraphCaptureException(String message) {
        super(message);
    }

    public GraphCaptureException(String message, Throwable cause) {
        super(message, cause);
    }
}
