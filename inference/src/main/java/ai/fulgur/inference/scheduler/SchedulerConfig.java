package ai.fulgur.inference.scheduler;

/**
 * The scheduler's budgets and policy.
 *
 * @param maxTokensPerStep tokens computed in one step over all sequences (prefill chunks plus decodes), ≥ 1
 * @param maxSequences     sequences in one step, ≥ 1
 * @param preemptionMode   what preemption does with the victim's blocks
 */
public record SchedulerConfig(int maxTokensPerStep, int maxSequences, PreemptionMode preemptionMode) {

    /** Checks the budgets. */
    public SchedulerConfig {
        if (maxTokensPerStep < 1) {
            throw new IllegalArgumentException("maxTokensPerStep must be >= 1, got " + maxTokensPerStep);
        }
        if (maxSequences < 1) {
            throw new IllegalArgumentException("maxSequences must be >= 1, got " + maxSequences);
        }
        if (preemptionMode == null) {
            throw new IllegalArgumentException("preemptionMode must be SWAP or RECOMPUTE, got null");
        }
    }
}
