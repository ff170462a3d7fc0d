package ai.fulgur.inference.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.inference.kvcache.BlockCopy;
import ai.fulgur.inference.kvcache.BlockManager;
import ai.fulgur.inference.kvcache.Sequence;
import ai.fulgur.inference.kvcache.SequenceGroup;
import ai.fulgur.inference.kvcache.SequenceStatus;
import ai.fulgur.inference.sampling.SamplingParams;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Small worked schedules with block size 4: exact chunks, preemptions, swaps and copies. */
class SchedulerTest {
    private static long clock;

    static SequenceGroup request(String id, int from, int length, int n) {
        return new SequenceGroup(id, IntStream.range(from, from + length).toArray(), SamplingParams.greedy(32), n,
                clock++);
    }

    static Sequence seq(SequenceGroup g) {
        return g.sequences().getFirst();
    }

    static String describe(SchedulerOutput out) {
        StringBuilder s = new StringBuilder();
        for (ScheduledChunk c : out.chunks()) {
            s.append(c.sequence().id()).append(':').append(c.start()).append('+').append(c.numTokens())
                    .append(c.samples() ? "s " : " ");
        }
        return s.toString().trim();
    }

    static void chunk(ScheduledChunk c, Sequence seq, int start, int n, boolean samples) {
        assertSame(seq, c.sequence());
        assertEquals(start, c.start(), "start");
        assertEquals(n, c.numTokens(), "tokens");
        assertEquals(samples, c.samples(), "samples");
    }

    @Test
    void prefillsAreChunkedUnderTheTokenBudgetAndMixWithDecodes() {
        Scheduler s = new Scheduler(new SchedulerConfig(10, 4, PreemptionMode.RECOMPUTE), new BlockManager(4, 20, 0));
        SequenceGroup a = request("a", 0, 6, 1);
        SequenceGroup b = request("b", 100, 6, 1);
        SequenceGroup c = request("c", 200, 3, 1);
        s.add(a);
        s.add(b);
        s.add(c);

        SchedulerOutput first = s.schedule();
        assertEquals(2, first.chunks().size(), describe(first));
        chunk(first.chunks().get(0), seq(a), 0, 6, true);
        chunk(first.chunks().get(1), seq(b), 0, 4, false); // chunked: 4 tokens left in the budget
        assertEquals(10, first.numBatchedTokens());
        assertEquals(List.of(c), s.waiting()); // no budget left: admission stops
        s.completeStep(first);
        seq(a).appendToken(7);

        SchedulerOutput second = s.schedule();
        assertEquals(3, second.chunks().size(), describe(second));
        chunk(second.chunks().get(0), seq(a), 6, 1, true);
        assertTrue(second.chunks().get(0).isDecode());
        chunk(second.chunks().get(1), seq(b), 4, 2, true);
        chunk(second.chunks().get(2), seq(c), 0, 3, true);
        assertEquals(6, second.numBatchedTokens());
        assertEquals(List.of(a, b, c), s.running());
        s.completeStep(second);
        assertEquals(7, seq(a).numComputedTokens());
        assertEquals(6, seq(b).numComputedTokens());
    }

    @Test
    void theSequenceBudgetLimitsAStep() {
        Scheduler s = new Scheduler(new SchedulerConfig(100, 2, PreemptionMode.RECOMPUTE), new BlockManager(4, 20, 0));
        SequenceGroup a = request("a", 0, 3, 1);
        SequenceGroup b = request("b", 10, 3, 1);
        SequenceGroup c = request("c", 20, 3, 1);
        s.add(a);
        s.add(b);
        s.add(c);
        SchedulerOutput out = s.schedule();
        assertEquals(2, out.chunks().size());
        assertEquals(List.of(c), s.waiting());
    }

    /**
     * Four blocks. a (8 tokens) and b (7) take two each. a's 9th token needs a block: b, the latest arrival, is
     * preempted. With recomputation b waits again, then comes back with its first block from the prefix cache.
     */
    @Test
    void recomputationFreesTheLatestArrivalAndItComesBackFromThePrefixCache() {
        BlockManager blocks = new BlockManager(4, 4, 0);
        Scheduler s = new Scheduler(new SchedulerConfig(64, 8, PreemptionMode.RECOMPUTE), blocks);
        SequenceGroup a = request("a", 0, 8, 1);
        SequenceGroup b = request("b", 100, 7, 1);
        s.add(a);
        s.add(b);
        SchedulerOutput first = s.schedule();
        assertEquals("" + seq(a).id() + ":0+8s " + seq(b).id() + ":0+7s", describe(first));
        assertEquals(0, blocks.numFreeBlocks());
        s.completeStep(first);
        seq(a).appendToken(1);
        seq(b).appendToken(2);

        SchedulerOutput second = s.schedule();
        assertEquals(List.of(b), second.preempted());
        assertEquals(1, second.chunks().size());
        chunk(second.chunks().get(0), seq(a), 8, 1, true);
        assertEquals(List.of(b), s.waiting());
        assertEquals(SequenceStatus.WAITING, seq(b).status());
        assertEquals(0, seq(b).numComputedTokens());
        assertEquals(8, seq(b).tokenCount()); // its sampled token is kept and recomputed
        assertEquals(List.of(2), blocks.devicePool().evictableIds()); // b's full first block stays cached
        s.completeStep(second);
        seq(a).appendToken(3);

        SchedulerOutput third = s.schedule(); // b needs 2 blocks, 1 is free (evictable): later
        assertEquals(1, third.chunks().size());
        s.completeStep(third);
        s.finish(a, seq(a), SequenceStatus.FINISHED_LENGTH);
        assertEquals(4, blocks.numFreeBlocks());

        SchedulerOutput fourth = s.schedule();
        chunk(fourth.chunks().get(0), seq(b), 4, 4, true); // block 2 hit: tokens 0-3 are not recomputed
        assertEquals(2, blocks.table(seq(b)).orElseThrow().get(0).id());
        s.completeStep(fourth);
        s.finish(b, seq(b), SequenceStatus.FINISHED_STOPPED);
        assertFalse(s.hasUnfinished());
        assertEquals(4, blocks.numFreeBlocks());
    }

    /** The same squeeze with swapping: b goes to CPU, and comes back before a newer request is admitted. */
    @Test
    void swappingMovesTheVictimToCpuAndItResumesBeforeNewRequests() {
        BlockManager blocks = new BlockManager(4, 4, 4, false, null);
        Scheduler s = new Scheduler(new SchedulerConfig(64, 8, PreemptionMode.SWAP), blocks);
        SequenceGroup a = request("a", 0, 8, 1);
        SequenceGroup b = request("b", 100, 7, 1);
        s.add(a);
        s.add(b);
        SchedulerOutput first = s.schedule();
        s.completeStep(first);
        seq(a).appendToken(1);
        seq(b).appendToken(2);

        SchedulerOutput second = s.schedule();
        assertEquals(List.of(b), second.preempted());
        assertEquals(List.of(new BlockCopy(2, 0), new BlockCopy(3, 1)), second.swapOut());
        assertEquals(List.of(b), s.swapped());
        assertEquals(SequenceStatus.SWAPPED, seq(b).status());
        assertEquals(7, seq(b).numComputedTokens()); // nothing to recompute
        assertEquals(3, blocks.table(seq(a)).orElseThrow().get(2).id()); // a's new block is b's old one
        s.completeStep(second);
        seq(a).appendToken(3);

        SequenceGroup c = request("c", 200, 1, 1); // fits the one free block, but b is older and swapped
        s.add(c);
        SchedulerOutput third = s.schedule();
        assertEquals(1, third.chunks().size());
        assertEquals(List.of(c), s.waiting());
        s.completeStep(third);
        s.finish(a, seq(a), SequenceStatus.FINISHED_LENGTH);

        SchedulerOutput fourth = s.schedule();
        // free queue after a's blocks were freed tail first: [2, 3, 1, 0]
        assertEquals(List.of(new BlockCopy(0, 2), new BlockCopy(1, 3)), fourth.swapIn());
        assertEquals(2, fourth.chunks().size(), describe(fourth));
        chunk(fourth.chunks().get(0), seq(b), 7, 1, true);
        chunk(fourth.chunks().get(1), seq(c), 0, 1, true);
        assertEquals(4, blocks.numFreeCpuBlocks());
        s.completeStep(fourth);
        assertTrue(s.abort("b"));
        assertTrue(s.abort("c"));
        assertFalse(s.abort("c"));
        assertEquals(4, blocks.numFreeBlocks());
    }

    /** A sequence with nothing to compute waits while a sibling catches up; a group with nothing at all fails. */
    @Test
    void aComputedSequenceWaitsForItsSiblings() {
        BlockManager blocks = new BlockManager(4, 8, 0);
        Scheduler s = new Scheduler(new SchedulerConfig(64, 8, PreemptionMode.RECOMPUTE), blocks);
        SequenceGroup g = request("beams", 0, 6, 2);
        s.add(g);
        s.completeStep(s.schedule());
        Sequence parent = seq(g);
        Sequence child = s.fork(g, parent);
        child.appendToken(11); // the parent has no new token yet: its beam step waits for the child's logits

        SchedulerOutput second = s.schedule();
        assertEquals(1, second.chunks().size(), describe(second));
        chunk(second.chunks().getFirst(), child, 6, 1, true);
        s.completeStep(second);
        IllegalStateException e = assertThrows(IllegalStateException.class, s::schedule);
        assertTrue(e.getMessage().contains("no token to compute"), e.getMessage());
    }

    @Test
    void samplesForkAfterThePromptAndCopyTheSharedLastBlockOnWrite() {
        BlockManager blocks = new BlockManager(4, 8, 0);
        Scheduler s = new Scheduler(new SchedulerConfig(64, 8, PreemptionMode.RECOMPUTE), blocks);
        SequenceGroup g = request("n3", 0, 6, 3);
        s.add(g);
        SchedulerOutput first = s.schedule();
        s.completeStep(first);
        Sequence parent = seq(g);
        Sequence c1 = s.fork(g, parent);
        Sequence c2 = s.fork(g, parent);
        parent.appendToken(10);
        c1.appendToken(11);
        c2.appendToken(12);
        assertEquals(3, blocks.devicePool().block(1).refCount());

        SchedulerOutput second = s.schedule();
        assertEquals(3, second.chunks().size());
        assertEquals(List.of(new BlockCopy(1, 2), new BlockCopy(1, 3)), second.copies());
        assertEquals(3, blocks.devicePool().block(0).refCount());
        s.completeStep(second);
        s.finish(g, c1, SequenceStatus.FINISHED_STOPPED);
        assertEquals(List.of(g), s.running()); // two samples still run
        s.finish(g, parent, SequenceStatus.FINISHED_LENGTH);
        s.finish(g, c2, SequenceStatus.FINISHED_LENGTH);
        assertFalse(s.hasUnfinished());
        assertEquals(8, blocks.numFreeBlocks());
    }

    @Test
    void aRequestLargerThanThePoolIsIgnoredAndOneThatOutgrowsItIsEnded() {
        BlockManager blocks = new BlockManager(4, 2, 0);
        Scheduler s = new Scheduler(new SchedulerConfig(64, 8, PreemptionMode.RECOMPUTE), blocks);
        SequenceGroup huge = request("huge", 0, 9, 1);
        SequenceGroup fits = request("fits", 100, 8, 1);
        s.add(huge);
        s.add(fits);
        SchedulerOutput first = s.schedule();
        assertEquals(List.of(huge), first.ignored());
        assertEquals(SequenceStatus.FINISHED_IGNORED, seq(huge).status());
        chunk(first.chunks().getFirst(), seq(fits), 0, 8, true);
        s.completeStep(first);
        seq(fits).appendToken(1); // the 9th token needs a third block: alone on the device, it can never have it
        SchedulerOutput second = s.schedule();
        assertEquals(List.of(fits), second.ignored());
        assertTrue(second.isEmpty());
        assertFalse(s.hasUnfinished());
        assertEquals(2, blocks.numFreeBlocks());
    }

    @Test
    void abortReturnsTheBlocksOfWaitingRunningAndSwappedRequests() {
        BlockManager blocks = new BlockManager(4, 4, 4, false, null);
        Scheduler s = new Scheduler(new SchedulerConfig(64, 8, PreemptionMode.SWAP), blocks);
        SequenceGroup a = request("a", 0, 8, 1);
        SequenceGroup b = request("b", 100, 7, 1);
        SequenceGroup c = request("c", 200, 5, 1);
        s.add(a);
        s.add(b);
        s.add(c);
        SchedulerOutput first = s.schedule();
        s.completeStep(first);
        seq(a).appendToken(1);
        seq(b).appendToken(2);
        s.schedule(); // b swapped out
        assertEquals(List.of(b), s.swapped());
        assertEquals(List.of(c), s.waiting());
        assertTrue(s.abort("b"));
        assertEquals(4, blocks.numFreeCpuBlocks());
        assertTrue(s.abort("c"));
        assertTrue(s.abort("a"));
        assertEquals(4, blocks.numFreeBlocks());
        assertFalse(s.hasUnfinished());
        assertEquals(SequenceStatus.FINISHED_ABORTED, seq(b).status());
    }

    @Test
    void rejectsBadInput() {
        Scheduler s = new Scheduler(new SchedulerConfig(8, 8, PreemptionMode.SWAP), new BlockManager(4, 4, 0));
        s.add(new SequenceGroup("x", new int[] {1}, SamplingParams.greedy(1), 1, 10));
        assertThrows(IllegalArgumentException.class,
                () -> s.add(new SequenceGroup("x", new int[] {1}, SamplingParams.greedy(1), 1, 11)));
        assertThrows(IllegalArgumentException.class,
                () -> s.add(new SequenceGroup("y", new int[] {1}, SamplingParams.greedy(1), 1, 9)));
        assertThrows(IllegalArgumentException.class, () -> new SchedulerConfig(0, 1, PreemptionMode.SWAP));
        SchedulerOutput out = s.schedule();
        s.completeStep(out);
        assertThrows(IllegalStateException.class, s::schedule); // the sampled token was never appended
    }
}
