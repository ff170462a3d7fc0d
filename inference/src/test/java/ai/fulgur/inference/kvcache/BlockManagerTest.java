package ai.fulgur.inference.kvcache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.inference.sampling.SamplingParams;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Block size 4 over tiny pools: exact block ids, counts and copies after each step. */
class BlockManagerTest {
    private static int requests;

    static SequenceGroup group(int... prompt) {
        return new SequenceGroup("r" + requests++, prompt, SamplingParams.greedy(16), 1, requests);
    }

    static int[] range(int from, int to) {
        return IntStream.range(from, to).toArray();
    }

    /** Allocates, marks running, computes the whole prompt and caches its full blocks. */
    static Sequence prefill(BlockManager m, SequenceGroup g) {
        Sequence seq = g.sequences().getFirst();
        m.allocate(g);
        seq.setStatus(SequenceStatus.RUNNING);
        if (seq.numUncomputedTokens() > 0) {
            m.appendSlots(seq, seq.numUncomputedTokens());
            seq.advanceComputed(seq.numUncomputedTokens());
        }
        m.cacheComputedBlocks(seq);
        return seq;
    }

    @Test
    void promptGetsBlocksInIdOrderAndWasteIsTheLastBlocksEmptySlots() {
        BlockManager m = new BlockManager(4, 8, 0);
        SequenceGroup g = group(range(0, 10));
        assertEquals(AllocationStatus.OK, m.canAllocate(g));
        Sequence seq = prefill(m, g);
        assertArrayEquals(new int[] {0, 1, 2}, m.table(seq).orElseThrow().physicalIds());
        assertEquals(10, seq.numComputedTokens());
        assertEquals(5, m.numFreeBlocks());
        KvUsage usage = m.usage();
        assertEquals(3, usage.usedBlocks());
        assertEquals(12, usage.allocatedSlots());
        assertEquals(10, usage.filledSlots());
        assertEquals(2.0 / 12, usage.wasteFraction(), 1e-12);
        assertEquals(3.0 / 8, usage.utilisation(), 1e-12);
        // the two full blocks are cached; the partial one is not
        assertTrue(m.devicePool().block(0).isCached());
        assertTrue(m.devicePool().block(1).isCached());
        assertFalse(m.devicePool().block(2).isCached());

        // decode: token 10 fits block 2, token 12 needs a new block, taken on demand
        seq.appendToken(42);
        assertEquals(List.of(), m.appendSlots(seq, 1));
        seq.advanceComputed(1);
        seq.appendToken(43);
        m.appendSlots(seq, 1);
        seq.advanceComputed(1);
        seq.appendToken(44);
        assertEquals(1, m.numBlocksToAppend(List.of(seq), s -> 1));
        m.appendSlots(seq, 1);
        assertArrayEquals(new int[] {0, 1, 2, 3}, m.table(seq).orElseThrow().physicalIds());

        m.free(seq);
        assertEquals(8, m.numFreeBlocks());
        // freed tail first, so the cached blocks are evicted tail first too
        assertEquals(List.of(1, 0), m.devicePool().evictableIds());
        assertEquals(List.of(4, 5, 6, 7, 3, 2), m.devicePool().freeIds());
    }

    @Test
    void tooLargeForThePoolIsNeverAndTooLargeForNowIsLater() {
        BlockManager m = new BlockManager(4, 3, 0);
        assertEquals(AllocationStatus.NEVER, m.canAllocate(group(range(0, 13))));
        prefill(m, group(range(0, 8)));
        assertEquals(AllocationStatus.LATER, m.canAllocate(group(range(100, 108))));
        assertEquals(AllocationStatus.OK, m.canAllocate(group(range(100, 104))));
    }

    @Test
    void aCommonPrefixIsSharedAndTheBlockOfTheLastTokenIsAlwaysComputed() {
        BlockManager m = new BlockManager(4, 10, 0);
        int[] system = range(0, 8);
        Sequence a = prefill(m, group(concat(system, 50, 51)));
        assertArrayEquals(new int[] {0, 1, 2}, m.table(a).orElseThrow().physicalIds());

        SequenceGroup gb = group(concat(system, 60, 61, 62));
        // two hits already referenced: only one new block from the free count
        assertEquals(AllocationStatus.OK, m.canAllocate(gb));
        m.allocate(gb);
        Sequence b = gb.sequences().getFirst();
        assertArrayEquals(new int[] {0, 1, 3}, m.table(b).orElseThrow().physicalIds());
        assertEquals(8, b.numComputedTokens());
        assertEquals(2, m.devicePool().block(0).refCount());
        assertEquals(2, m.devicePool().block(1).refCount());

        // exactly the system prompt: block 1 holds the last token, so only block 0 is a hit
        SequenceGroup gc = group(system);
        m.allocate(gc);
        Sequence c = gc.sequences().getFirst();
        assertArrayEquals(new int[] {0, 4}, m.table(c).orElseThrow().physicalIds());
        assertEquals(4, c.numComputedTokens());

        // another prefix ending in the same block tokens shares nothing
        SequenceGroup gd = group(concat(range(90, 94), 4, 5, 6, 7, 9));
        m.allocate(gd);
        assertEquals(0, gd.sequences().getFirst().numComputedTokens());

        // after everyone leaves, the prefix stays cached (evictable) and is hit again
        for (Sequence s : List.of(a, b, c, gd.sequences().getFirst())) {
            m.free(s);
        }
        assertEquals(10, m.numFreeBlocks());
        SequenceGroup ge = group(concat(system, 70));
        m.allocate(ge);
        assertArrayEquals(new int[] {0, 1}, java.util.Arrays.copyOf(
                m.table(ge.sequences().getFirst()).orElseThrow().physicalIds(), 2));
        assertEquals(8, ge.sequences().getFirst().numComputedTokens());
    }

    @Test
    void aHashCollisionNeverSharesWrongBlocks() {
        PrefixHasher constant = (parent, tokens) -> new BlockHash(7, 7); // every block collides
        BlockManager m = new BlockManager(4, 10, 0, true, constant);
        Sequence a = prefill(m, group(range(0, 9)));
        assertTrue(m.devicePool().block(0).isCached());
        assertFalse(m.devicePool().block(1).isCached()); // its hash was taken: the chain ends

        SequenceGroup other = group(concat(range(20, 24), 4, 5, 6, 7, 8));
        m.allocate(other);
        assertEquals(0, other.sequences().getFirst().numComputedTokens());
        SequenceGroup same = group(range(0, 9));
        m.allocate(same);
        Sequence s = same.sequences().getFirst();
        assertEquals(4, s.numComputedTokens()); // block 0 only
        assertEquals(0, m.table(s).orElseThrow().get(0).id());
        assertEquals(2, m.devicePool().block(0).refCount());
        m.free(a);
    }

    @Test
    void forkSharesEveryBlockAndTheFirstWriterCopies() {
        BlockManager m = new BlockManager(4, 10, 0);
        SequenceGroup g = new SequenceGroup("beam", range(0, 6), SamplingParams.greedy(4), 3, 0);
        Sequence parent = prefill(m, g);
        Sequence child1 = g.fork(parent);
        Sequence child2 = g.fork(parent);
        m.fork(parent, child1);
        m.fork(parent, child2);
        assertEquals(3, m.devicePool().block(0).refCount());
        assertEquals(3, m.devicePool().block(1).refCount());
        parent.appendToken(100);
        child1.appendToken(101);
        child2.appendToken(102);
        // three writers of block 1 (shared by exactly them): two copies, the last writes in place
        assertEquals(2, m.numBlocksToAppend(List.of(parent, child1, child2), s -> 1));
        assertEquals(List.of(new BlockCopy(1, 2)), m.appendSlots(parent, 1));
        assertEquals(List.of(new BlockCopy(1, 3)), m.appendSlots(child1, 1));
        assertEquals(List.of(), m.appendSlots(child2, 1));
        assertArrayEquals(new int[] {0, 2}, m.table(parent).orElseThrow().physicalIds());
        assertArrayEquals(new int[] {0, 3}, m.table(child1).orElseThrow().physicalIds());
        assertArrayEquals(new int[] {0, 1}, m.table(child2).orElseThrow().physicalIds());
        assertEquals(3, m.devicePool().block(0).refCount()); // the full block stays shared
        for (Sequence s : List.of(parent, child1, child2)) {
            assertEquals(1, m.table(s).orElseThrow().get(1).refCount());
            m.free(s);
        }
        assertEquals(10, m.numFreeBlocks());
    }

    @Test
    void swapMovesSharedBlocksOnceAndBack() {
        BlockManager m = new BlockManager(4, 6, 4);
        SequenceGroup g = new SequenceGroup("n2", range(0, 6), SamplingParams.greedy(4), 2, 0);
        Sequence a = prefill(m, g);
        Sequence b = g.fork(a);
        m.fork(a, b);
        assertTrue(m.canSwapOut(g));
        assertEquals(List.of(new BlockCopy(0, 0), new BlockCopy(1, 1)), m.swapOut(g));
        assertEquals(6, m.numFreeBlocks());
        assertEquals(2, m.numFreeCpuBlocks());
        assertEquals(2, m.cpuPool().block(1).refCount());
        assertEquals("cpu", m.table(b).orElseThrow().pool().name());
        assertThrows(IllegalStateException.class, () -> m.appendSlots(a, 1));

        prefill(m, group(range(50, 58))); // takes device blocks 2, 3
        a.appendToken(1);
        b.appendToken(2);
        // back: 2 blocks plus one copy-on-write for the shared last block
        assertEquals(3, 2 + m.numBlocksToAppend(List.of(a, b), s -> 1));
        assertTrue(m.canSwapIn(g, s -> 1));
        assertEquals(List.of(new BlockCopy(0, 4), new BlockCopy(1, 5)), m.swapIn(g));
        assertArrayEquals(new int[] {4, 5}, m.table(a).orElseThrow().physicalIds());
        assertArrayEquals(new int[] {4, 5}, m.table(b).orElseThrow().physicalIds());
        assertEquals(4, m.numFreeCpuBlocks());
        m.free(g);
        assertEquals(4, m.numFreeBlocks()); // 2 blocks still held by the second request
    }

    private static int[] concat(int[] head, int... tail) {
        int[] all = java.util.Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, all, head.length, tail.length);
        return all;
    }
}
