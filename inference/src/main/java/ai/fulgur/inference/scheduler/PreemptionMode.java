package ai.fulgur.inference.scheduler;

/** What happens to a preempted request's keys and values. */
public enum PreemptionMode {
    /** Copied to the CPU swap pool and back later (falls back to recomputation when the CPU pool is full). */
    SWAP,
    /** Freed; the request waits again and recomputes its prompt and generated tokens. */
    RECOMPUTE
}
