package ai.fulgur.ops.distributed;

/**
 * A collective started by {@link Communicator#startAllReduceSum} that may still be running beside this rank's other
 * work. {@link #await()} orders it before the device's later work: on a GPU the device's stream waits for it (the host
 * does not block); a collective that ran to the end when it was started has nothing to wait for.
 */
@FunctionalInterface
public interface PendingCollective {
    /** A collective that is already done. */
    PendingCollective DONE = () -> { };

    /** Makes the work queued after this call see the collective's result; calling it again does nothing more. */
    void await();
}
