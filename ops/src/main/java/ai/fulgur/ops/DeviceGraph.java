package ai.fulgur.ops;

/**
 * Work recorded once on a device and replayed as a whole (a CUDA graph): a replay launches every recorded kernel and
 * copy again with the same arguments and addresses, without running the Java code that recorded them. So whatever
 * changes between replays must sit in device memory that the recorded kernels read (inputs copied into the buffers
 * the capture used, per-step scalars in a small device tensor), never in a launch argument.
 *
 * <p>Obtained from {@link Backend#captureGraph}; memory allocated while recording belongs to the graph's private pool
 * until {@link #close()}.
 */
public interface DeviceGraph extends AutoCloseable {

    /** Queues one replay on the device's stream (asynchronous, like a kernel launch). */
    void replay();

    /** Replays queued so far. */
    long replays();

    /** Bytes of device memory the graph's private pool holds (allocated during capture and kept for replays). */
    long poolBytes();

    /** Frees the executable graph and returns its pool to the device's allocator. */
    @Override
    void close();
}
