package ai.fulgur.inference.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.fulgur.inference.sampling.SamplingParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Thousands of random allocate / compute / sample / fork / free / swap-out / swap-in / preempt / abort operations
 * on a small manager (block size 4, 40 device and 20 CPU blocks, a 3-token vocabulary and shared system prompts, so
 * prefix hits, equal blocks under different prefixes, copy-on-write, eviction and running out all happen often).
 *
 * <p>The test keeps its own shadow: each live sequence's block list (changed only by the effects each operation is
 * documented to have) and the memory of both pools, where each slot holds the exact token prefix whose keys and
 * values were written there (a slot's KV depends on the whole prefix, not only its token). After every operation
 * it checks, against the shadow only:
 * <ul>
 *   <li>the manager's tables equal the shadow's; each block's count is the number of table entries naming it;</li>
 *   <li>every block is exactly one of free, cached-evictable (count 0), referenced; cached blocks are full and hold
 *       what their hash claims;</li>
 *   <li>every computed position of every sequence reads its own prefix from its block (so a prefix hit, a
 *       copy-on-write or a swap never serves another prefix's KV);</li>
 *   <li>usage statistics equal the shadow's counts.</li>
 * </ul>
 * Each write checks that its block has count 1 (copy-on-write came first). At the end everything is freed and both
 * pools must be all free.
 */
class BlockManagerPropertyTest {
    private static final int BLOCK = 4;
    private static final int DEVICE = 40;
    private static final int CPU = 20;
    private static final int MAX_TOKENS = 48;
    private static final int VOCAB = 3;
    private static final int OPERATIONS = 3000;

    @ParameterizedTest(name = "seed {0}, hasher {1}")
    @CsvSource({"1, sha256", "2, sha256", "3, colliding", "4, prefix-blind", "5, prefix-blind", "6, off"})
    void invariantsHoldAfterEveryOperation(long seed, String hasher) {
        PrefixHasher h = switch (hasher) {
            // few distinct hashes: most blocks collide with different tokens
            case "colliding" -> (parent, tokens) -> new BlockHash(0, tokens[0] % 2);
            // hashes the block alone: equal blocks under different prefixes collide, only the parent check tells
            case "prefix-blind" -> (parent, tokens) -> new BlockHash(1, Arrays.hashCode(tokens));
            default -> PrefixHasher.SHA_256;
        };

        Harness run = new Harness(new BlockManager(BLOCK, DEVICE, CPU, !hasher.equals("off"), h), new Random(seed));
        for (int i = 0; i < OPERATIONS; i++) {
            run.step();
            run.check();
        }
        run.abortAll();
        run.check();
        BlockManager m = run.m;
        assertEquals(DEVICE, m.numFreeBlocks(), "device blocks leaked");
        assertEquals(CPU, m.numFreeCpuBlocks(), "CPU blocks leaked");
        for (int id = 0; id < DEVICE; id++) {
            assertEquals(0, m.devicePool().block(id).refCount());
        }
        assertEquals(0, m.usage().usedBlocks());

        // the run exercised what it claims to
        Map<String, Integer> counts = run.counts;
        for (String op : List.of("allocate", "compute", "sample", "fork", "free", "swapOut", "swapIn", "preempt",
                "abort", "copyOnWrite", "outOfBlocks")) {
            assertTrue(counts.getOrDefault(op, 0) > 0, "no " + op + " in " + counts);
        }
        if (hasher.equals("off")) {
            assertEquals(0, counts.getOrDefault("prefixHitBlocks", 0));
        } else {
            assertTrue(counts.getOrDefault("prefixHitBlocks", 0) > 20, "few prefix hits: " + counts);
        }
        assertEquals(OPERATIONS, counts.entrySet().stream().filter(e -> Harness.OPS.contains(e.getKey()))
                .mapToInt(Map.Entry::getValue).sum(), counts.toString());
    }

    /** The manager under test, the groups alive, and the shadow. */
    private static final class Harness {
        static final Set<String> OPS = Set.of("allocate", "compute", "sample", "fork", "free", "swapOut", "swapIn",
                "preempt", "abort", "skip");

        final BlockManager m;
        final Random rnd;
        final int[][] systemPrompts;
        final List<SequenceGroup> groups = new ArrayList<>();
        final Map<Sequence, List<Integer>> shadowTables = new IdentityHashMap<>();
        final Map<Sequence, Boolean> shadowOnCpu = new IdentityHashMap<>();
        /** [pool][block][slot]: the prefix (a {@link TokenPrefixes} node) whose KV the slot holds; 0 if never written. */
        final int[][] deviceMemory = new int[DEVICE][BLOCK];
        final int[][] cpuMemory = new int[CPU][BLOCK];
        final TokenPrefixes prefixes = new TokenPrefixes();
        final Map<String, Integer> counts = new TreeMap<>();
        int requests;

        Harness(BlockManager m, Random rnd) {
            this.m = m;
            this.rnd = rnd;
            systemPrompts = new int[][] {randomTokens(9), randomTokens(12), randomTokens(5)};
        }

        int[] randomTokens(int n) {
            int[] t = new int[n];
            for (int i = 0; i < n; i++) {
                t[i] = rnd.nextInt(VOCAB);
            }
            return t;
        }

        void count(String what, int n) {
            counts.merge(what, n, Integer::sum);
        }

        List<Sequence> live(SequenceStatus status) {
            List<Sequence> out = new ArrayList<>();
            for (SequenceGroup g : groups) {
                out.addAll(g.sequences(status));
            }
            return out;
        }

        <T> T pick(List<T> from) {
            return from.get(rnd.nextInt(from.size()));
        }

        void step() {
            int r = rnd.nextInt(100);
            boolean done;
            if (r < 14) {
                done = allocate();
            } else if (r < 50) {
                done = compute();
            } else if (r < 70) {
                done = sample();
            } else if (r < 77) {
                done = fork();
            } else if (r < 82) {
                done = free();
            } else if (r < 87) {
                done = swapOut();
            } else if (r < 93) {
                done = swapIn();
            } else if (r < 97) {
                done = preempt();
            } else {
                done = abort();
            }
            if (!done) {
                count("skip", 1);
            }
        }

        // ------------------------------------------------------------ operations

        boolean allocate() {
            List<SequenceGroup> preempted = groups.stream()
                    .filter(g -> !g.sequences(SequenceStatus.WAITING).isEmpty()).toList();
            SequenceGroup g;
            if (!preempted.isEmpty() && rnd.nextBoolean()) {
                g = pick(preempted);
            } else {
                int[] system = rnd.nextInt(4) == 0 ? new int[0] : pick(Arrays.asList(systemPrompts));
                int[] suffix = randomTokens(1 + rnd.nextInt(12));
                int[] prompt = Arrays.copyOf(system, system.length + suffix.length);
                System.arraycopy(suffix, 0, prompt, system.length, suffix.length);
                g = new SequenceGroup("q" + requests++, prompt, SamplingParams.greedy(8), 1, requests);
            }
            AllocationStatus fit = m.canAllocate(g);
            assertNotEquals(AllocationStatus.NEVER, fit);
            if (fit == AllocationStatus.LATER) {
                count("outOfBlocks", 1);
                return false;
            }
            int[] refsBefore = refCounts(m.devicePool());
            int freeBefore = m.numFreeBlocks();
            m.allocate(g);
            if (!groups.contains(g)) {
                groups.add(g);
            }
            Set<Integer> taken = new HashSet<>(); // blocks that were free or evictable before
            Set<Integer> fresh = new HashSet<>();
            for (Sequence seq : g.sequences(SequenceStatus.WAITING)) {
                int[] ids = m.table(seq).orElseThrow().physicalIds();
                assertEquals(m.blocksFor(seq.tokenCount()), ids.length);
                int hits = seq.numComputedTokens() / BLOCK;
                assertEquals(0, seq.numComputedTokens() % BLOCK);
                assertTrue(seq.numComputedTokens() < seq.tokenCount(), "the last token must be left to compute");
                for (int i = 0; i < ids.length; i++) {
                    if (i < hits) {
                        assertTrue(m.devicePool().block(ids[i]).isCached(), "a hit must be a cached block");
                        if (refsBefore[ids[i]] == 0) {
                            taken.add(ids[i]);
                        }
                    } else {
                        assertEquals(0, refsBefore[ids[i]], "a new block must have been free");
                        assertTrue(fresh.add(ids[i]) && taken.add(ids[i]), "block " + ids[i] + " handed out twice");
                    }
                }
                count("prefixHitBlocks", hits);
                shadowTables.put(seq, toList(ids));
                shadowOnCpu.put(seq, false);
                seq.setStatus(SequenceStatus.RUNNING);
            }
            assertEquals(freeBefore - taken.size(), m.numFreeBlocks());
            count("allocate", 1);
            return true;
        }

        boolean compute() {
            List<Sequence> candidates = live(SequenceStatus.RUNNING).stream()
                    .filter(s -> s.numUncomputedTokens() > 0).toList();
            if (candidates.isEmpty()) {
                return false;
            }
            Sequence seq = pick(candidates);
            int n = 1 + rnd.nextInt(seq.numUncomputedTokens());
            int needed = m.numBlocksToAppend(List.of(seq), s -> n);
            if (needed > m.numFreeBlocks()) {
                assertFalse(m.canAppendSlots(List.of(seq), s -> n));
                count("outOfBlocks", 1);
                return false;
            }
            int[] refsBefore = refCounts(m.devicePool());
            int freeBefore = m.numFreeBlocks();
            List<BlockCopy> copies = m.appendSlots(seq, n);
            assertEquals(freeBefore - needed, m.numFreeBlocks(), "numBlocksToAppend must be exact");

            // the only changes allowed: new blocks at the end, and shared blocks in the written range replaced by copies
            List<Integer> before = shadowTables.get(seq);
            int[] after = m.table(seq).orElseThrow().physicalIds();
            int start = seq.numComputedTokens();
            int end = start + n;
            Map<Integer, Integer> copyOf = new LinkedHashMap<>();
            for (BlockCopy c : copies) {
                assertTrue(refsBefore[c.source()] > 1, "copy-on-write of an unshared block " + c);
                assertEquals(0, refsBefore[c.destination()], "copy into a block in use " + c);
                copyOf.put(c.source(), c.destination());
            }
            int replaced = 0;
            for (int i = 0; i < after.length; i++) {
                if (i < before.size() && after[i] == before.get(i)) {
                    continue;
                }
                if (i < before.size()) {
                    assertTrue(i >= start / BLOCK && i <= (end - 1) / BLOCK, "block " + i + " replaced outside writes");
                    assertEquals(copyOf.get(before.get(i)), after[i]);
                    replaced++;
                } else {
                    assertEquals(0, refsBefore[after[i]], "a new block must have been free");
                }
            }
            assertEquals(copies.size(), replaced);
            count("copyOnWrite", copies.size());
            for (BlockCopy c : copies) { // the runner copies before it writes
                deviceMemory[c.destination()] = deviceMemory[c.source()].clone();
            }
            int[] prefixIds = prefixes.nodes(seq.tokens());
            for (int p = start; p < end; p++) {
                KvBlock block = m.devicePool().block(after[p / BLOCK]);
                assertEquals(1, block.refCount(), "write of position " + p + " into shared " + block);
                assertFalse(block.isCached(), "write of position " + p + " into cached " + block);
                deviceMemory[block.id()][p % BLOCK] = prefixIds[p];
            }
            seq.advanceComputed(n);
            shadowTables.put(seq, toList(after));
            if (rnd.nextInt(10) < 8) {
                m.cacheComputedBlocks(seq);
            }
            count("compute", 1);
            return true;
        }

        boolean sample() {
            List<Sequence> candidates = live(SequenceStatus.RUNNING).stream()
                    .filter(s -> s.numUncomputedTokens() == 0).toList();
            if (candidates.isEmpty()) {
                return false;
            }
            Sequence seq = pick(candidates);
            if (seq.tokenCount() >= MAX_TOKENS) {
                finish(seq, SequenceStatus.FINISHED_LENGTH);
            } else {
                seq.appendToken(rnd.nextInt(VOCAB));
            }
            count("sample", 1);
            return true;
        }

        boolean fork() {
            List<Sequence> candidates = live(SequenceStatus.RUNNING);
            if (candidates.isEmpty()) {
                return false;
            }
            Sequence parent = pick(candidates);
            SequenceGroup g = groupOf(parent);
            if (g.unfinished().size() >= 4) {
                return false;
            }
            Sequence child = g.fork(parent);
            m.fork(parent, child);
            shadowTables.put(child, new ArrayList<>(shadowTables.get(parent)));
            shadowOnCpu.put(child, false);
            count("fork", 1);
            return true;
        }

        boolean free() {
            List<Sequence> candidates = new ArrayList<>(shadowTables.keySet());
            if (candidates.isEmpty()) {
                return false;
            }
            finish(pick(candidates), SequenceStatus.FINISHED_STOPPED);
            count("free", 1);
            return true;
        }

        boolean swapOut() {
            List<SequenceGroup> candidates = groups.stream()
                    .filter(g -> !g.unfinished().isEmpty() && g.unfinished().size() == g.sequences(
                            SequenceStatus.RUNNING).size()).toList();
            if (candidates.isEmpty()) {
                return false;
            }
            SequenceGroup g = pick(candidates);
            Set<Integer> blocks = distinctShadowBlocks(g);
            assertEquals(blocks.size() <= m.numFreeCpuBlocks(), m.canSwapOut(g));
            if (!m.canSwapOut(g)) {
                count("outOfBlocks", 1);
                return false;
            }
            int[] cpuRefsBefore = refCounts(m.cpuPool());
            List<BlockCopy> copies = m.swapOut(g);
            Map<Integer, Integer> moved = checkMove(copies, blocks, cpuRefsBefore);
            for (BlockCopy c : copies) {
                cpuMemory[c.destination()] = deviceMemory[c.source()].clone();
            }
            for (Sequence seq : g.unfinished()) {
                shadowTables.put(seq, shadowTables.get(seq).stream().map(moved::get).toList());
                shadowOnCpu.put(seq, true);
                seq.setStatus(SequenceStatus.SWAPPED);
            }
            count("swapOut", 1);
            return true;
        }

        boolean swapIn() {
            List<SequenceGroup> candidates = groups.stream()
                    .filter(g -> !g.sequences(SequenceStatus.SWAPPED).isEmpty()).toList();
            if (candidates.isEmpty()) {
                return false;
            }
            SequenceGroup g = pick(candidates);
            Set<Integer> blocks = distinctShadowBlocks(g);
            assertEquals(blocks.size() <= m.numFreeBlocks(), m.canSwapIn(g, s -> 0));
            if (!m.canSwapIn(g, s -> 0)) {
                count("outOfBlocks", 1);
                return false;
            }
            int[] deviceRefsBefore = refCounts(m.devicePool());
            List<BlockCopy> copies = m.swapIn(g);
            Map<Integer, Integer> moved = checkMove(copies, blocks, deviceRefsBefore);
            for (BlockCopy c : copies) {
                deviceMemory[c.destination()] = cpuMemory[c.source()].clone();
            }
            for (Sequence seq : g.unfinished()) {
                shadowTables.put(seq, shadowTables.get(seq).stream().map(moved::get).toList());
                shadowOnCpu.put(seq, false);
                seq.setStatus(SequenceStatus.RUNNING);
            }
            count("swapIn", 1);
            return true;
        }

        /** Preemption by recomputation: every block freed, the group waits to be allocated again. */
        boolean preempt() {
            List<SequenceGroup> candidates = groups.stream()
                    .filter(g -> !g.sequences(SequenceStatus.RUNNING).isEmpty()).toList();
            if (candidates.isEmpty()) {
                return false;
            }
            SequenceGroup g = pick(candidates);
            for (Sequence seq : g.sequences(SequenceStatus.RUNNING)) {
                m.free(seq);
                seq.resetComputed();
                seq.setStatus(SequenceStatus.WAITING);
                shadowTables.remove(seq);
                shadowOnCpu.remove(seq);
            }
            count("preempt", 1);
            return true;
        }

        boolean abort() {
            if (groups.isEmpty()) {
                return false;
            }
            abort(pick(groups));
            count("abort", 1);
            return true;
        }

        void abort(SequenceGroup g) {
            m.free(g);
            for (Sequence seq : g.unfinished()) {
                seq.setStatus(SequenceStatus.FINISHED_ABORTED);
                shadowTables.remove(seq);
                shadowOnCpu.remove(seq);
            }
            groups.remove(g);
        }

        void abortAll() {
            for (SequenceGroup g : new ArrayList<>(groups)) {
                abort(g);
            }
        }

        void finish(Sequence seq, SequenceStatus status) {
            m.free(seq);
            seq.setStatus(status);
            shadowTables.remove(seq);
            shadowOnCpu.remove(seq);
            SequenceGroup g = groupOf(seq);
            if (g.isFinished()) {
                groups.remove(g);
            }
        }

        // ------------------------------------------------------------ checks

        /** Each source block (exactly the group's distinct blocks) moved once, into a block that was free. */
        Map<Integer, Integer> checkMove(List<BlockCopy> copies, Set<Integer> blocks, int[] targetRefsBefore) {
            Map<Integer, Integer> moved = new HashMap<>();
            Set<Integer> targets = new HashSet<>();
            for (BlockCopy c : copies) {
                assertTrue(moved.put(c.source(), c.destination()) == null, "block moved twice: " + c);
                assertTrue(targets.add(c.destination()), "two blocks moved into one: " + c);
                assertEquals(0, targetRefsBefore[c.destination()], "moved into a block in use: " + c);
            }
            assertEquals(blocks, moved.keySet());
            return moved;
        }

        void check() {
            checkPool(m.devicePool(), false);
            checkPool(m.cpuPool(), true);
            for (SequenceGroup g : groups) {
                for (Sequence seq : g.sequences()) {
                    List<Integer> shadow = shadowTables.get(seq);
                    if (shadow == null) {
                        assertTrue(m.table(seq).isEmpty(), seq + " should hold no blocks");
                        continue;
                    }
                    BlockTable table = m.table(seq).orElseThrow(() -> new AssertionError(seq + " lost its table"));
                    assertEquals(shadowOnCpu.get(seq) ? "cpu" : "device", table.pool().name());
                    assertEquals(shadow, toList(table.physicalIds()), "table of " + seq);
                    assertTrue(shadow.size() * BLOCK >= seq.numComputedTokens());
                    int[][] memory = shadowOnCpu.get(seq) ? cpuMemory : deviceMemory;
                    int[] tokens = seq.tokens();
                    int[] prefixIds = prefixes.nodes(tokens);
                    for (int p = 0; p < seq.numComputedTokens(); p++) {
                        int slot = memory[shadow.get(p / BLOCK)][p % BLOCK];
                        if (slot != prefixIds[p]) {
                            fail("position " + p + " of " + seq + " (tokens " + Arrays.toString(tokens) + ") reads "
                                    + Arrays.toString(prefixes.tokens(slot)) + " from block " + shadow.get(p / BLOCK));
                        }
                    }
                }
            }
            checkUsage();
        }

        void checkPool(BlockPool pool, boolean isCpu) {
            int[] expected = new int[pool.capacity()];
            shadowTables.forEach((seq, ids) -> {
                if (shadowOnCpu.get(seq) == isCpu) {
                    ids.forEach(id -> expected[id]++);
                }
            });
            Set<Integer> free = new HashSet<>(pool.freeIds());
            Set<Integer> evictable = new HashSet<>(pool.evictableIds());
            assertEquals(pool.freeIds().size(), free.size(), "a block is twice in the free queue");
            int referenced = 0;
            for (int id = 0; id < pool.capacity(); id++) {
                KvBlock block = pool.block(id);
                assertEquals(expected[id], block.refCount(), "reference count of " + block + " in " + pool.name());
                boolean inFree = free.contains(id);
                boolean inEvictable = evictable.contains(id);
                if (block.refCount() > 0) {
                    referenced++;
                    assertFalse(inFree || inEvictable, block + " is referenced and queued as free");
                } else {
                    assertTrue(inFree ^ inEvictable, block + " must be free or evictable, exactly one");
                    assertEquals(inEvictable, block.isCached(), block + ": evictable iff cached");
                }
                if (block.isCached()) {
                    assertFalse(isCpu, "the CPU pool caches nothing");
                    // a cached block is full and computed, and its last slot holds the prefix ending in its tokens
                    for (int slot : deviceMemory[id]) {
                        assertNotEquals(0, slot, block + " is cached but not fully written");
                    }
                    int[] last = prefixes.tokens(deviceMemory[id][BLOCK - 1]);
                    assertEquals(0, last.length % BLOCK);
                    assertTrue(Arrays.equals(block.tokens(), Arrays.copyOfRange(last, last.length - BLOCK,
                            last.length)), block + " cached with tokens it does not hold");
                }
            }
            assertEquals(pool.capacity(), free.size() + evictable.size() + referenced);
            assertEquals(pool.numFreeBlocks(), free.size() + evictable.size());
        }

        void checkUsage() {
            Map<Integer, Integer> filled = new HashMap<>();
            shadowTables.forEach((seq, ids) -> {
                if (!shadowOnCpu.get(seq)) {
                    for (int i = 0; i < ids.size(); i++) {
                        int inBlock = Math.max(0, Math.min(BLOCK, seq.tokenCount() - i * BLOCK));
                        filled.merge(ids.get(i), inBlock, Math::max);
                    }
                }
            });
            KvUsage usage = m.usage();
            assertEquals(filled.size(), usage.usedBlocks());
            assertEquals(filled.size() * (long) BLOCK, usage.allocatedSlots());
            assertEquals(filled.values().stream().mapToLong(Integer::longValue).sum(), usage.filledSlots());
        }

        // ------------------------------------------------------------ helpers

        SequenceGroup groupOf(Sequence seq) {
            for (SequenceGroup g : groups) {
                if (g.sequences().contains(seq)) {
                    return g;
                }
            }
            throw new AssertionError(seq + " belongs to no live group");
        }

        Set<Integer> distinctShadowBlocks(SequenceGroup g) {
            Set<Integer> ids = new HashSet<>();
            for (Sequence seq : g.unfinished()) {
                ids.addAll(shadowTables.get(seq));
            }
            return ids;
        }

        static int[] refCounts(BlockPool pool) {
            int[] refs = new int[pool.capacity()];
            for (int id = 0; id < refs.length; id++) {
                refs[id] = pool.block(id).refCount();
            }
            return refs;
        }

        static List<Integer> toList(int[] ids) {
            return Arrays.stream(ids).boxed().toList();
        }
    }
}
