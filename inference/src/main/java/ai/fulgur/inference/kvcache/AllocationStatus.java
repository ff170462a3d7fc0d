package ai.fulgur.inference.kvcache;

/** Whether a waiting request's prompt fits the device pool: now, after others free blocks, or never. */
public enum AllocationStatus {
    /** Enough free (or evictable) blocks now. */
    OK,
    /** Not now; it fits the pool once running requests free blocks. */
    LATER,
    /** Larger than the whole pool: it can never run and must be rejected. */
    NEVER
}
