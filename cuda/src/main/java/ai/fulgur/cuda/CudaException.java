package ai.fulgur.cuda;

/** A CUDA driver or library call failed; the message names the call (and the kernel, for launches). */
public class CudaException extends RuntimeException {
    public CudaException(String message) {
        super(message);
    }

    public CudaException(String message, Throwable cause) {
        super(message, cause);
    }
}
