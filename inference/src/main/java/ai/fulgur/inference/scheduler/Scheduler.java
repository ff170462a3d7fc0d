package ai.fulgur.inference.scheduler;

import ai.fulgur.inference.kvcache.AllocationStatus;
import ai.fulgur.inference.kvcache.BlockCopy;
import ai.fulgur.inference.kvcache.BlockManager;
import ai.fulgur.inference.kvcache.Sequence;
import ai.fulgur.inference.kvcache.SequenceGroup;
import ai.fulgur.inference.kvcache.SequenceStatus;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * First-come-first-served, iteration-level batching over a {@link BlockManager}. There is no prefill phase and decode
 * phase: every step each scheduled sequence computes some of its uncomputed tokens (a whole or chunked prompt, or the
 * one token sampled last step), so prefills and decodes share a batch under {@code maxTokensPerStep} and
 * {@code maxSequences}.
 *
 * <p>A step, {@link #schedule()}:
 * <ol>
 *   <li>Running requests, oldest first, get their tokens. When blocks run out, the most recently arrived running
 *       request is preempted (swapped to CPU, or freed for recomputation) until the current one fits; if the current
 *       one is itself the latest, it is preempted. A request alone on the device that still does not fit can never
 *       run and is ignored.</li>
 *   <li>If nothing was preempted: swapped requests, oldest first, come back while they fit.</li>
 *   <li>If nothing was preempted and nothing is swapped: waiting requests are admitted in arrival order; the first
 *       that does not fit stops admission, so no later request overtakes it.</li>
 * </ol>
 * Requests move whole (all sequences of a group or none), and every queue is kept in arrival order, so the oldest
 * unfinished request is never preempted by a younger one and resumes before anything new is admitted: no starvation.
 *
 * <p>After the model ran a step, {@link #completeStep} records the computed tokens; the engine then appends each
 * sampled token to its sequence (or forks samples with {@link #fork}, or ends it with {@link #finish}).
 */
public final class Scheduler {
    private final SchedulerConfig config;
    private final BlockManager blocks;
    private final List<SequenceGroup> waiting = new ArrayList<>();
    private final List<SequenceGroup> running = new ArrayList<>();
    private final List<SequenceGroup> swapped = new ArrayList<>();
    private final Map<SequenceGroup, Long> arrivalOrder = new IdentityHashMap<>();
    private final Map<String, SequenceGroup> byRequestId = new HashMap<>();
    private final Comparator<SequenceGroup> fcfs = Comparator.comparingLong(arrivalOrder::get);
    private long nextArrival;
    private long lastArrivalTime = Long.MIN_VALUE;

    /** A scheduler with these budgets over this block manager. */
    public Scheduler(SchedulerConfig config, BlockManager blocks) {
        this.config = config;
        this.blocks = blocks;
    }

    /** The budgets and preemption mode. */
    public SchedulerConfig config() {
        return config;
    }

    /** The block manager. */
    public BlockManager blockManager() {
        return blocks;
    }

    /** Queues a new request. Arrival times must not decrease (they order first-come-first-served). */
    public void add(SequenceGroup group) {
        if (byRequestId.containsKey(group.requestId())) {
            throw new IllegalArgumentException("request id " + group.requestId() + " is already live; ids must be "
                    + "unique among unfinished requests");
        }
        if (group.arrivalTime() < lastArrivalTime) {
            throw new IllegalArgumentException("request " + group.requestId() + " arrived at "
                    + group.arrivalTime() + ", before the last one added (" + lastArrivalTime + ")");
        }
        if (group.sequences().size() != 1 || group.sequences().getFirst().status() != SequenceStatus.WAITING) {
            throw new IllegalArgumentException("request " + group.requestId() + " must be new: one waiting sequence");
        }
        lastArrivalTime = group.arrivalTime();
        arrivalOrder.put(group, nextArrival++);
        byRequestId.put(group.requestId(), group);
        waiting.add(group);
    }

    /** Waiting requests, in the order they will be admitted. */
    public List<SequenceGroup> waiting() {
        return Collections.unmodifiableList(waiting);
    }

    /** Running requests, oldest first. */
    public List<SequenceGroup> running() {
        return Collections.unmodifiableList(running);
    }

    /** Swapped requests, oldest first. */
    public List<SequenceGroup> swapped() {
        return Collections.unmodifiableList(swapped);
    }

    /** Whether any request is unfinished. */
    public boolean hasUnfinished() {
        return !byRequestId.isEmpty();
    }

    /** The live request with this id, or null. */
    public SequenceGroup request(String requestId) {
        return byRequestId.get(requestId);
    }

    // ---------------------------------------------------------------- one step

    /** Plans one step; see the class comment. */
    public SchedulerOutput schedule() {
        Step step = new Step();
        scheduleRunning(step);
        if (!step.preempted()) {
            scheduleSwapped(step);
        }
        if (!step.preempted() && swapped.isEmpty()) {
            scheduleWaiting(step);
        }
        return new SchedulerOutput(step.chunks, step.swapOut, step.swapIn, step.copies, step.preempted,
                step.ignored);
    }

    private void scheduleRunning(Step step) {
        int i = 0;
        while (i < running.size()) {
            SequenceGroup group = running.get(i);
            List<Sequence> seqs = group.sequences(SequenceStatus.RUNNING);
            Map<Sequence, Integer> plan = step.plan(seqs);
            if (plan == null) {
                i++; // no budget left for it this step: it keeps its blocks and goes first next step
                continue;
            }
            boolean fits = true;
            while (!blocks.canAppendSlots(plan.keySet(), plan::get)) {
                SequenceGroup victim = running.getLast();
                if (victim == group && running.size() == 1) {
                    ignore(group, step); // alone on the device and still too big: it can never run
                    fits = false;
                    break;
                }
                preempt(victim, step);
                if (victim == group) {
                    fits = false;
                    break;
                }
            }
            if (!fits) {
                break; // the group was the last running one
            }
            step.run(plan);
            i++;
        }
    }

    private void scheduleSwapped(Step step) {
        while (!swapped.isEmpty()) {
            SequenceGroup group = swapped.getFirst();
            List<Sequence> seqs = group.sequences(SequenceStatus.SWAPPED);
            Map<Sequence, Integer> plan = step.plan(seqs);
            if (plan == null || !blocks.canSwapIn(group, s -> plan.getOrDefault(s, 0))) {
                return; // the oldest swapped request goes first; nothing overtakes it
            }
            step.swapIn.addAll(blocks.swapIn(group));
            swapped.removeFirst();
            seqs.forEach(s -> s.setStatus(SequenceStatus.RUNNING));
            insertInOrder(running, group);
            step.run(plan);
        }
    }

    private void scheduleWaiting(Step step) {
        while (!waiting.isEmpty()) {
            SequenceGroup group = waiting.getFirst();
            List<Sequence> seqs = group.sequences(SequenceStatus.WAITING);
            AllocationStatus fit = blocks.canAllocate(group);
            if (fit == AllocationStatus.NEVER) {
                waiting.removeFirst();
                ignore(group, step);
                continue;
            }
            if (fit == AllocationStatus.LATER || !step.hasRoomFor(seqs.size())) {
                return; // first come, first served: no later request is admitted before this one
            }
            blocks.allocate(group); // prefix-cache hits raise the computed counts, so plan after allocating
            waiting.removeFirst();
            seqs.forEach(s -> s.setStatus(SequenceStatus.RUNNING));
            insertInOrder(running, group);
            step.run(step.plan(seqs));
        }
    }

    private void preempt(SequenceGroup victim, Step step) {
        running.remove(victim);
        step.preempted.add(victim);
        List<Sequence> seqs = victim.sequences(SequenceStatus.RUNNING);
        if (config.preemptionMode() == PreemptionMode.SWAP && blocks.canSwapOut(victim)) {
            step.swapOut.addAll(blocks.swapOut(victim));
            seqs.forEach(s -> s.setStatus(SequenceStatus.SWAPPED));
            insertInOrder(swapped, victim);
        } else {
            for (Sequence seq : seqs) {
                blocks.free(seq);
                seq.resetComputed();
                seq.setStatus(SequenceStatus.WAITING);
            }
            insertInOrder(waiting, victim);
        }
    }

    private void ignore(SequenceGroup group, Step step) {
        running.remove(group);
        finishAll(group, SequenceStatus.FINISHED_IGNORED);
        step.ignored.add(group);
    }

    private void insertInOrder(List<SequenceGroup> queue, SequenceGroup group) {
        int at = Collections.binarySearch(queue, group, fcfs);
        queue.add(at < 0 ? -at - 1 : at, group);
    }

    // ---------------------------------------------------------------- after a step

    /**
     * Records that the step's chunks were computed (their tokens now have keys and values) and puts newly full blocks
     * in the prefix cache. Chunks of sequences finished or aborted meanwhile are skipped.
     */
    public void completeStep(SchedulerOutput output) {
        for (ScheduledChunk chunk : output.chunks()) {
            Sequence seq = chunk.sequence();
            if (seq.status() != SequenceStatus.RUNNING) {
                continue;
            }
            if (seq.numComputedTokens() != chunk.start()) {
                throw new IllegalStateException(seq + " was scheduled from token " + chunk.start()
                        + "; completeStep must be called once per schedule()");
            }
            seq.advanceComputed(chunk.numTokens());
            blocks.cacheComputedBlocks(seq);
        }
    }

    /** Forks a running sequence of a running request (another sample or beam); the child shares its blocks. */
    public Sequence fork(SequenceGroup group, Sequence parent) {
        if (parent.status() != SequenceStatus.RUNNING || !running.contains(group)) {
            throw new IllegalStateException("fork of " + parent + " in " + group + ": both must be running");
        }
        Sequence child = group.fork(parent);
        blocks.fork(parent, child);
        return child;
    }

    /** Ends one sequence with a finished status and frees its blocks; the request leaves once all have ended. */
    public void finish(SequenceGroup group, Sequence seq, SequenceStatus status) {
        if (!status.isFinished()) {
            throw new IllegalArgumentException("finish takes a finished status, got " + status);
        }
        blocks.free(seq);
        seq.setStatus(status);
        if (group.isFinished()) {
            remove(group);
        }
    }

    /**
     * Cancels a request wherever it is and returns all its blocks (a disconnected client must not leak memory).
     *
     * @return whether the request was live
     */
    public boolean abort(String requestId) {
        SequenceGroup group = byRequestId.get(requestId);
        if (group == null) {
            return false;
        }
        finishAll(group, SequenceStatus.FINISHED_ABORTED);
        return true;
    }

    private void finishAll(SequenceGroup group, SequenceStatus status) {
        for (Sequence seq : group.unfinished()) {
            blocks.free(seq);
            seq.setStatus(status);
        }
        remove(group);
    }

    private void remove(SequenceGroup group) {
        waiting.remove(group);
        running.remove(group);
        swapped.remove(group);
        byRequestId.remove(group.requestId());
    }

    /** One step's budgets and results. */
    private final class Step {
        private int tokenBudget = config.maxTokensPerStep();
        private int sequenceBudget = config.maxSequences();
        private final List<ScheduledChunk> chunks = new ArrayList<>();
        private final List<BlockCopy> swapOut = new ArrayList<>();
        private final List<BlockCopy> swapIn = new ArrayList<>();
        private final List<BlockCopy> copies = new ArrayList<>();
        private final List<SequenceGroup> preempted = new ArrayList<>();
        private final List<SequenceGroup> ignored = new ArrayList<>();

        boolean preempted() {
            return !preempted.isEmpty();
        }

        /** Whether {@code n} more sequences of at least one token each fit the budgets. */
        boolean hasRoomFor(int n) {
            return n <= sequenceBudget && n <= tokenBudget;
        }

        /**
         * Tokens for each sequence within the budgets, at least one each (a long prompt is chunked), or null if the
         * group does not fit this step. A sequence whose tokens are all computed waits for its siblings: beams
         * recomputed after preemption come back in chunks of different lengths, and the beam search needs all of
         * them before its next step.
         */
        Map<Sequence, Integer> plan(List<Sequence> seqs) {
            List<Sequence> busy = seqs.stream().filter(s -> s.numUncomputedTokens() > 0).toList();
            if (busy.isEmpty() && !seqs.isEmpty()) {
                throw new IllegalStateException(seqs.getFirst() + " has no token to compute: append its sampled "
                        + "token or finish it before the next schedule()");
            }
            if (busy.isEmpty() || !hasRoomFor(busy.size())) {
                return null;
            }
            Map<Sequence, Integer> plan = new LinkedHashMap<>();
            int left = tokenBudget;
            for (int k = 0; k < busy.size(); k++) {
                Sequence seq = busy.get(k);
                int reserved = busy.size() - k - 1; // one token for each sequence still to plan
                int n = Math.min(seq.numUncomputedTokens(), left - reserved);
                plan.put(seq, n);
                left -= n;
            }
            return plan;
        }

        /** Makes the planned slots writable (collecting copy-on-write copies) and records the chunks. */
        void run(Map<Sequence, Integer> plan) {
            for (Sequence seq : plan.keySet()) {
                int n = plan.get(seq);
                copies.addAll(blocks.appendSlots(seq, n));
                chunks.add(new ScheduledChunk(seq, seq.numComputedTokens(), n,
                        seq.numComputedTokens() + n == seq.tokenCount()));
                tokenBudget -= n;
            }
            sequenceBudget -= plan.size();
        }
    }
}
