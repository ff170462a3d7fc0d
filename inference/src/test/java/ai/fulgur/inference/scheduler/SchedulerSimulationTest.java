package ai.fulgur.inference.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.fulgur.inference.kvcache.BlockManager;
import ai.fulgur.inference.kvcache.BlockTable;
import ai.fulgur.inference.kvcache.KvUsage;
import ai.fulgur.inference.kvcache.PrefixHasher;
import ai.fulgur.inference.kvcache.Sequence;
import ai.fulgur.inference.kvcache.SequenceGroup;
import ai.fulgur.inference.kvcache.SequenceStatus;
import ai.fulgur.inference.kvcache.TokenPrefixes;
import ai.fulgur.inference.sampling.SamplingParams;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The scheduler driven to completion by a fake engine (no model: a sampled token is a function of the request and
 * position), with random arrivals, prompt and output lengths, n = 1 or 2 samples, and a device pool far smaller than
 * the load. Every step checks the budgets, that no computed slot lies in a shared block, that the oldest running
 * request is scheduled, that KV waste stays under one block per sequence, and that nothing new is admitted while a
 * request is swapped or was just preempted. The fake runner also keeps a shadow of both pools' memory (which token
 * prefix each slot holds), carries out each step's swaps and copies in the documented order, writes the computed
 * slots, and checks that every sequence, running or swapped, reads its own prefix at every computed position. At the end every request has finished with its full output, admission
 * followed arrival order, and both pools are empty.
 */
class SchedulerSimulationTest {
    private static final int BLOCK = 4;
    private static final int DEVICE = 16;
    private static final int CPU = 8;
    private static final int REQUESTS = 200;

    @ParameterizedTest(name = "seed {0}, {1}, prefix caching {2}")
    @CsvSource({"1, SWAP, false", "2, SWAP, true", "3, RECOMPUTE, false", "4, RECOMPUTE, true", "5, SWAP, true", "6, RECOMPUTE, true"})
    void everyRequestFinishesUnderTightMemory(long seed, PreemptionMode mode, boolean prefixCaching) {
        Random rnd = new Random(seed);
        BlockManager blocks = new BlockManager(BLOCK, DEVICE, CPU, prefixCaching, PrefixHasher.SHA_256);
        SchedulerConfig config = new SchedulerConfig(24, 6, mode);
        Engine engine = new Engine(new Scheduler(config, blocks), rnd);
        int[] system = {5, 6, 7, 8, 9, 10, 11, 12};
        int added = 0;
        while (added < REQUESTS || engine.scheduler.hasUnfinished()) {
            if (added < REQUESTS && rnd.nextInt(2) == 0) {
                for (int k = 1 + rnd.nextInt(2); k > 0 && added < REQUESTS; k--, added++) {
                    int length = 1 + rnd.nextInt(20);
                    int[] prompt = new int[length];
                    for (int i = 0; i < length; i++) {
                        prompt[i] = prefixCaching && rnd.nextBoolean() && i < system.length ? system[i]
                                : 100 + rnd.nextInt(50);
                    }
                    engine.add(prompt, 1 + rnd.nextInt(12), rnd.nextInt(10) < 7 ? 1 : 2);
                }
            }
            engine.step();
            if (engine.steps > 20_000) {
                fail("no progress after 20,000 steps: " + engine.scheduler.running().size() + " running, "
                        + engine.scheduler.swapped().size() + " swapped, " + engine.scheduler.waiting().size()
                        + " waiting");
            }
        }
        engine.checkAllFinished();
        assertEquals(DEVICE, blocks.numFreeBlocks(), "device blocks leaked");
        assertEquals(CPU, blocks.numFreeCpuBlocks(), "CPU blocks leaked");
        assertEquals(0, blocks.usage().usedBlocks());
        assertTrue(engine.preemptions > 0, "memory was not tight enough to preempt");
        if (mode == PreemptionMode.SWAP) {
            assertTrue(engine.swapOuts > 0 && engine.swapIns > 0, "no swap in " + engine.swapOuts + "/" + engine.swapIns);
        }
        assertTrue(engine.copiesOnWrite > 0, "no copy-on-write");
    }

    /**
     * A long request arrives first, then a short one every step, forever. The long one is the oldest: it must be
     * scheduled in every step from admission to its end (never preempted by the younger ones, never left waiting),
     * and every request admitted meanwhile must not overtake an older waiting one.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"SWAP", "RECOMPUTE"})
    void theOldestRequestIsNeverStarvedByAStreamOfNewOnes(PreemptionMode mode) {
        BlockManager blocks = new BlockManager(BLOCK, 20, 16, false, PrefixHasher.SHA_256);
        Engine engine = new Engine(new Scheduler(new SchedulerConfig(16, 4, mode), blocks), new Random(7));
        SequenceGroup longOne = engine.add(new int[16], 40, 1);
        int admittedAt = -1;
        while (!longOne.isFinished()) {
            engine.add(new int[] {1, 2, 3, 4, 5, 6, 7, 8}, 8, 1);
            engine.step();
            if (admittedAt < 0 && longOne.sequences().getFirst().status() == SequenceStatus.RUNNING) {
                admittedAt = engine.steps;
            }
            if (admittedAt >= 0 && !longOne.isFinished()) {
                assertTrue(engine.lastScheduled.contains(longOne), "oldest request skipped at step " + engine.steps);
            }
            assertTrue(engine.steps < 200, "the long request did not finish in 200 steps");
        }
        assertEquals(1, admittedAt);
        assertEquals(40, longOne.sequences().getFirst().outputLength());
        // drain the rest, then nothing may be left
        while (engine.scheduler.hasUnfinished()) {
            engine.step();
            assertTrue(engine.steps < 2_000, "the stream did not drain");
        }
        engine.checkAllFinished();
        assertEquals(20, blocks.numFreeBlocks());
        assertEquals(16, blocks.numFreeCpuBlocks());
    }

    /** A swapped request comes back before any request that arrived after it is admitted. */
    @Test
    void aSwappedRequestResumesBeforeNewOnes() {
        BlockManager blocks = new BlockManager(BLOCK, 12, 12, false, PrefixHasher.SHA_256);
        Engine engine = new Engine(new Scheduler(new SchedulerConfig(64, 8, PreemptionMode.SWAP), blocks),
                new Random(3));
        for (int i = 0; i < 4; i++) {
            engine.add(new int[12], 12, 1); // 4 × 3 blocks fill the pool; growth forces swaps
        }
        for (int i = 0; i < 40; i++) {
            engine.add(new int[] {9}, 2, 1);
            engine.step();
        }
        while (engine.scheduler.hasUnfinished()) {
            engine.step();
            assertTrue(engine.steps < 500, "did not drain");
        }
        assertTrue(engine.swapOuts > 0);
        engine.checkAllFinished();
    }

    /** The fake engine: runs each step's plan against the block tables and samples deterministic tokens. */
    private static final class Engine {
        final Scheduler scheduler;
        final Random rnd;
        final List<SequenceGroup> arrivals = new ArrayList<>();
        final List<SequenceGroup> admissionOrder = new ArrayList<>();
        final Set<SequenceGroup> admitted = new HashSet<>();
        final Map<Sequence, Integer> targets = new IdentityHashMap<>();
        final Map<Sequence, SequenceGroup> groupOf = new IdentityHashMap<>();
        Set<SequenceGroup> lastScheduled = Set.of();
        final TokenPrefixes prefixes = new TokenPrefixes();
        int[][] deviceMemory;
        int[][] cpuMemory;
        int steps;
        int preemptions;
        int swapOuts;
        int swapIns;
        int copiesOnWrite;
        long clock;

        Engine(Scheduler scheduler, Random rnd) {
            this.scheduler = scheduler;
            this.rnd = rnd;
            deviceMemory = new int[scheduler.blockManager().devicePool().capacity()][BLOCK];
            cpuMemory = new int[scheduler.blockManager().cpuPool().capacity()][BLOCK];
        }

        SequenceGroup add(int[] prompt, int maxTokens, int n) {
            SequenceGroup g = new SequenceGroup("req" + arrivals.size(), prompt, SamplingParams.greedy(maxTokens), n,
                    clock++);
            Sequence first = g.sequences().getFirst();
            targets.put(first, maxTokens);
            groupOf.put(first, g);
            arrivals.add(g);
            scheduler.add(g);
            return g;
        }

        void step() {
            steps++;
            BlockManager blocks = scheduler.blockManager();
            SequenceGroup oldestRunning = scheduler.running().isEmpty() ? null : scheduler.running().getFirst();
            SchedulerOutput out = scheduler.schedule();
            SchedulerConfig config = scheduler.config();

            // budgets, and each sequence at most once
            assertTrue(out.numBatchedTokens() <= config.maxTokensPerStep(), "token budget: " + out.numBatchedTokens());
            assertTrue(out.chunks().size() <= config.maxSequences(), "sequence budget: " + out.chunks().size());
            Set<Sequence> seen = new HashSet<>();
            Set<SequenceGroup> scheduled = new HashSet<>();
            List<SequenceGroup> newlyAdmitted = new ArrayList<>();
            for (ScheduledChunk c : out.chunks()) {
                Sequence seq = c.sequence();
                assertTrue(seen.add(seq), seq + " scheduled twice in one step");
                assertEquals(SequenceStatus.RUNNING, seq.status());
                assertEquals(seq.numComputedTokens(), c.start());
                assertTrue(c.numTokens() >= 1 && c.start() + c.numTokens() <= seq.tokenCount());
                // the runner writes slots [start, start + n): each must lie in a block of its own
                BlockTable table = blocks.table(seq).orElseThrow();
                assertEquals("device", table.pool().name());
                for (int p = c.start(); p < c.start() + c.numTokens(); p++) {
                    assertEquals(1, table.get(p / BLOCK).refCount(), "write into a shared block at " + p);
                }
                SequenceGroup g = groupOf.get(seq);
                scheduled.add(g);
                if (admitted.add(g)) {
                    admissionOrder.add(g);
                    newlyAdmitted.add(g);
                }
            }
            if (oldestRunning != null && !oldestRunning.isFinished()) {
                assertTrue(scheduled.contains(oldestRunning), "the oldest running request was not scheduled");
            }
            if (!newlyAdmitted.isEmpty()) {
                assertTrue(out.preempted().isEmpty(), "admitted new requests in a step that preempted");
                assertTrue(scheduler.swapped().isEmpty(), "admitted new requests while one is swapped");
            }
            assertTrue(out.ignored().isEmpty(), "ignored " + out.ignored());
            assertEquals(scheduler.running().stream().sorted((a, b) -> Long.compare(a.arrivalTime(),
                    b.arrivalTime())).toList(), scheduler.running(), "running must stay in arrival order");
            int runningSeqs = scheduler.running().stream().mapToInt(g -> g.sequences(SequenceStatus.RUNNING).size())
                    .sum();
            KvUsage usage = blocks.usage();
            assertTrue(usage.allocatedSlots() - usage.filledSlots() <= (long) (BLOCK - 1) * runningSeqs,
                    "KV waste " + (usage.allocatedSlots() - usage.filledSlots()) + " slots for " + runningSeqs
                            + " sequences");
            preemptions += out.preempted().size();
            swapOuts += out.swapOut().isEmpty() ? 0 : 1;
            swapIns += out.swapIn().isEmpty() ? 0 : 1;
            copiesOnWrite += out.copies().size();
            lastScheduled = scheduled;
            runShadow(out);

            scheduler.completeStep(out);
            for (ScheduledChunk c : out.chunks()) {
                Sequence seq = c.sequence();
                if (!c.samples() || seq.status() != SequenceStatus.RUNNING) {
                    continue;
                }
                SequenceGroup g = groupOf.get(seq);
                List<Sequence> sampling = new ArrayList<>(List.of(seq));
                if (g.numSamples() > g.sequences().size() && seq.outputLength() == 0) {
                    while (g.sequences().size() < g.numSamples()) {
                        Sequence child = scheduler.fork(g, seq);
                        targets.put(child, 1 + rnd.nextInt(g.params().maxTokens()));
                        groupOf.put(child, g);
                        sampling.add(child);
                    }
                }
                for (Sequence s : sampling) {
                    s.appendToken(tokenAt(g, s, s.tokenCount()));
                    if (s.outputLength() == targets.get(s)) {
                        scheduler.finish(g, s, s.outputLength() == g.params().maxTokens()
                                ? SequenceStatus.FINISHED_LENGTH : SequenceStatus.FINISHED_STOPPED);
                    }
                }
            }
        }

        /** Swaps out, swaps in, copies, then writes the computed slots, and checks what every sequence reads. */
        void runShadow(SchedulerOutput out) {
            BlockManager blocks = scheduler.blockManager();
            out.swapOut().forEach(c -> cpuMemory[c.destination()] = deviceMemory[c.source()].clone());
            out.swapIn().forEach(c -> deviceMemory[c.destination()] = cpuMemory[c.source()].clone());
            out.copies().forEach(c -> deviceMemory[c.destination()] = deviceMemory[c.source()].clone());
            Map<Sequence, Integer> computedAfter = new IdentityHashMap<>();
            for (ScheduledChunk c : out.chunks()) {
                Sequence seq = c.sequence();
                BlockTable table = blocks.table(seq).orElseThrow();
                int[] nodes = prefixes.nodes(seq.tokens());
                for (int p = c.start(); p < c.start() + c.numTokens(); p++) {
                    deviceMemory[table.get(p / BLOCK).id()][p % BLOCK] = nodes[p];
                }
                computedAfter.put(seq, c.start() + c.numTokens());
            }
            for (SequenceGroup g : arrivals) {
                for (Sequence seq : g.unfinished()) {
                    if (blocks.table(seq).isEmpty()) {
                        continue; // waiting: nothing cached
                    }
                    BlockTable table = blocks.table(seq).get();
                    int[][] memory = table.pool().name().equals("cpu") ? cpuMemory : deviceMemory;
                    int[] nodes = prefixes.nodes(seq.tokens());
                    int computed = computedAfter.getOrDefault(seq, seq.numComputedTokens());
                    for (int p = 0; p < computed; p++) {
                        int slot = memory[table.get(p / BLOCK).id()][p % BLOCK];
                        if (slot != nodes[p]) {
                            fail("step " + steps + ": position " + p + " of " + seq + " in " + table + " reads "
                                    + java.util.Arrays.toString(prefixes.tokens(slot)) + ", expected "
                                    + java.util.Arrays.toString(seq.tokens(0, p + 1)));
                        }
                    }
                }
            }
        }

        /** A made-up model: the token depends on the request, the sample and the position. */
        int tokenAt(SequenceGroup g, Sequence s, int position) {
            return 1000 + (g.requestId().hashCode() * 31 + g.sequences().indexOf(s) * 7 + position) % 500;
        }

        void checkAllFinished() {
            assertFalse(scheduler.hasUnfinished());
            for (SequenceGroup g : arrivals) {
                assertTrue(g.isFinished(), g + " did not finish");
                assertEquals(g.numSamples(), g.sequences().size(), g + " lost a sample");
                for (Sequence s : g.sequences()) {
                    assertTrue(s.status() == SequenceStatus.FINISHED_LENGTH
                            || s.status() == SequenceStatus.FINISHED_STOPPED, s + " ended " + s.status());
                    assertEquals(targets.get(s), s.outputLength(), s + " output length");
                    for (int p = s.promptLength() + 1; p < s.tokenCount(); p++) {
                        // recomputation and swapping must not change what was generated
                        assertEquals(tokenAt(g, s, p), s.token(p));
                    }
                }
            }
            assertEquals(arrivals.stream().filter(admitted::contains).toList(), admissionOrder,
                    "admission must follow arrival order");
            assertEquals(arrivals.size(), admissionOrder.size());
        }
    }
}
