package ai.fulgur.inference.kvcache;

/** Where a sequence is in its life: queued, computing on the device, swapped to CPU, or finished and why. */
public enum SequenceStatus {
    /** Queued, holding no blocks (new, or preempted for recomputation). */
    WAITING,
    /** Holding device blocks and being scheduled. */
    RUNNING,
    /** Its blocks are in the CPU swap pool. */
    SWAPPED,
    /** Ended at a stop token. */
    FINISHED_STOPPED,
    /** Ended at max_tokens or the model's context. */
    FINISHED_LENGTH,
    /** Cancelled by the client. */
    FINISHED_ABORTED,
    /** Rejected: it needs more blocks than the whole pool holds. */
    FINISHED_IGNORED;

    /** Whether this is one of the finished states. */
    public boolean isFinished() {
        return ordinal() >= FINISHED_STOPPED.ordinal();
    }
}
