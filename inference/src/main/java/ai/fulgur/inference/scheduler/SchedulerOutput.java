package ai.fulgur.inference.scheduler;

import ai.fulgur.inference.kvcache.BlockCopy;
import ai.fulgur.inference.kvcache.SequenceGroup;
import java.util.List;

/**
 * One step's plan for the model runner, to be carried out in this order: copy {@code swapOut} blocks device → CPU
 * (their device blocks may be handed out again in this very step), copy {@code swapIn} blocks CPU → device, make the
 * copy-on-write {@code copies} within the device pool, then compute {@code chunks}.
 *
 * @param chunks    the token ranges computed, oldest request first
 * @param swapOut   device block → CPU block
 * @param swapIn    CPU block → device block
 * @param copies    device block → device block (copy-on-write)
 * @param preempted requests preempted this step (swapped, or back to waiting for recomputation)
 * @param ignored   requests rejected for good: larger than the whole device pool
 */
public record SchedulerOutput(List<ScheduledChunk> chunks, List<BlockCopy> swapOut, List<BlockCopy> swapIn,
        List<BlockCopy> copies, List<SequenceGroup> preempted, List<SequenceGroup> ignored) {

    /** Immutable copies of the lists. */
    public SchedulerOutput {
        chunks = List.copyOf(chunks);
        swapOut = List.copyOf(swapOut);
        swapIn = List.copyOf(swapIn);
        copies = List.copyOf(copies);
        preempted = List.copyOf(preempted);
        ignored = List.copyOf(ignored);
    }

    /** Tokens computed this step. */
    public int numBatchedTokens() {
        return chunks.stream().mapToInt(ScheduledChunk::numTokens).sum();
    }

    /** Whether there is nothing to compute. */
    public boolean isEmpty() {
        return chunks.isEmpty();
    }
}
