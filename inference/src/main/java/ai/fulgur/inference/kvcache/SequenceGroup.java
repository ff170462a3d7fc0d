package ai.fulgur.inference.kvcache;

import ai.fulgur.inference.sampling.SamplingParams;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * One request: its id, arrival time, sampling parameters and the sequences it generates. It starts with one sequence
 * (the prompt is computed once); the engine forks the other {@code n − 1} samples, or beams, from it afterwards, so
 * they share the prompt's blocks. The scheduler moves the whole group at once (admit, preempt, swap): all or nothing.
 */
public final class SequenceGroup {
    private final String requestId;
    private final long arrivalTime;
    private final SamplingParams params;
    private final int numSamples;
    private final List<Sequence> sequences = new ArrayList<>();

    /**
     * A request with one waiting sequence holding {@code prompt}.
     *
     * @param requestId   unique among live requests
     * @param prompt      ≥ 1 token ids
     * @param params      how tokens are sampled
     * @param numSamples  n ≥ 1 sequences to generate
     * @param arrivalTime when it arrived, in any monotonic unit (orders first-come-first-served)
     */
    public SequenceGroup(String requestId, int[] prompt, SamplingParams params, int numSamples, long arrivalTime) {
        if (numSamples < 1) {
            throw new IllegalArgumentException("n must be >= 1, got " + numSamples + " for request " + requestId);
        }
        this.requestId = requestId;
        this.arrivalTime = arrivalTime;
        this.params = params;
        this.numSamples = numSamples;
        sequences.add(new Sequence(prompt));
    }

    /** The request id. */
    public String requestId() {
        return requestId;
    }

    /** The arrival time. */
    public long arrivalTime() {
        return arrivalTime;
    }

    /** The sampling parameters. */
    public SamplingParams params() {
        return params;
    }

    /** n, the samples asked for. */
    public int numSamples() {
        return numSamples;
    }

    /** Every sequence, finished ones included, in creation order. */
    public List<Sequence> sequences() {
        return Collections.unmodifiableList(sequences);
    }

    /** The sequences with this status. */
    public List<Sequence> sequences(SequenceStatus status) {
        return sequences.stream().filter(s -> s.status() == status).toList();
    }

    /** The sequences not finished. */
    public List<Sequence> unfinished() {
        return sequences.stream().filter(s -> !s.status().isFinished()).toList();
    }

    /** Whether every sequence is finished. */
    public boolean isFinished() {
        return sequences.stream().allMatch(s -> s.status().isFinished());
    }

    /** Forks {@code parent} (a sequence of this group) and adds the child; blocks are the block manager's job. */
    public Sequence fork(Sequence parent) {
        if (!sequences.contains(parent)) {
            throw new IllegalArgumentException(parent + " is not in request " + requestId);
        }
        Sequence child = parent.fork();
        sequences.add(child);
        return child;
    }

    @Override
    public String toString() {
        return "SequenceGroup[" + requestId + ", arrived " + arrivalTime + ", " + sequences.size() + " sequences]";
    }
}
