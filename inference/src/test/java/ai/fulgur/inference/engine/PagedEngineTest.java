package ai.fulgur.inference.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.inference.generate.Generator;
import ai.fulgur.inference.sampling.SamplingParams;
import ai.fulgur.inference.scheduler.PreemptionMode;
import ai.fulgur.training.gpt2.Gpt2Config;
import ai.fulgur.training.gpt2.Gpt2Model;
import ai.fulgur.training.nn.TransformerBlock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The paged engine against the plain, unpaged {@link Generator} (and an unpaged reference beam search): the same
 * tokens for single requests, mixed batches arriving at different steps, forced preemption by swap and by
 * recomputation, prefix caching, parallel samples and beams; after every test the pools are all free.
 */
class PagedEngineTest {
    private static final int VOCAB = 50;
    private static Gpt2Model model;

    @BeforeAll
    static void model() {
        model = Gpt2Model.newModel(Gpt2Config.builder().nLayer(2).nHead(2).nEmbd(32).nPositions(48).vocabSize(VOCAB)
                .residPdrop(0).embdPdrop(0).attnPdrop(0).build(), 9);
        TestModels.sharpen(model);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    // ---------------------------------------------------------------- helpers

    private static EngineConfig config(int blockSize, int deviceBlocks, int cpuBlocks, boolean prefixCaching,
            int tokensPerStep, PreemptionMode mode) {
        return new EngineConfig(blockSize, deviceBlocks, cpuBlocks, prefixCaching, tokensPerStep, 16, mode);
    }

    private static PagedEngine engine(EngineConfig config) {
        return new PagedEngine(model, new TwoCharTokenizer(VOCAB), config);
    }

    private static CompletionRequest greedy(String id, int[] prompt, int maxTokens) {
        return new CompletionRequest(id, prompt, SamplingParams.greedy(maxTokens), 1, 1, false, -1, List.of());
    }

    /** Steps until nothing is live; the last output of each request, which must be finished. */
    private static Map<String, RequestOutput> runToEnd(PagedEngine engine, Map<String, RequestOutput> into) {
        for (int step = 0; engine.hasUnfinished(); step++) {
            assertTrue(step < 2000, "the engine did not finish");
            for (RequestOutput out : engine.step()) {
                into.put(out.requestId(), out);
            }
        }
        into.values().forEach(o -> assertTrue(o.finished(), o.requestId() + " finished"));
        return into;
    }

    private static void assertAllFree(PagedEngine engine) {
        var blocks = engine.blockManager();
        assertEquals(blocks.devicePool().capacity(), blocks.numFreeBlocks(), "device blocks leaked");
        assertEquals(blocks.cpuPool().capacity(), blocks.numFreeCpuBlocks(), "CPU blocks leaked");
        assertEquals(0, engine.stats().deviceKv().usedBlocks());
    }

    private static int[] prompt(int length, int salt) {
        int[] p = new int[length];
        for (int i = 0; i < length; i++) {
            p[i] = (i * 7 + salt * 13 + 3) % VOCAB;
        }
        return p;
    }

    private static int[] generatorTokens(int[] prompt, SamplingParams params) {
        return new Generator(model).generate(prompt, params, 1).getFirst().tokens();
    }

    // ---------------------------------------------------------------- greedy equals the plain generator

    @Test
    void greedySingleRequestEqualsTheGenerator() {
        int[] prompt = {3, 17, 42, 8, 8};
        try (PagedEngine engine = engine(config(4, 32, 0, false, 64, PreemptionMode.SWAP))) {
            engine.add(greedy("a", prompt, 14));
            RequestOutput out = runToEnd(engine, new HashMap<>()).get("a");
            assertArrayEquals(generatorTokens(prompt, SamplingParams.greedy(14)), out.outputs().getFirst().tokens());
            assertEquals("length", out.outputs().getFirst().finishReason());
            assertAllFree(engine);
        }
    }

    /** Several requests of mixed prompt lengths (one chunked), arriving at different steps. */
    @Test
    void mixedBatchArrivingAtDifferentStepsEqualsTheGenerator() {
        int[][] prompts = {prompt(3, 1), prompt(11, 2), prompt(7, 3), prompt(2, 4), prompt(19, 5)};
        int[] maxTokens = {9, 6, 12, 15, 5};
        Map<String, RequestOutput> outs = new HashMap<>();
        try (PagedEngine engine = engine(config(4, 64, 0, false, 12, PreemptionMode.SWAP))) {
            for (int i = 0; i < prompts.length; i++) {
                engine.add(greedy("r" + i, prompts[i], maxTokens[i]));
                for (int s = 0; s < i; s++) { // the next request arrives after i more steps
                    engine.step().forEach(o -> outs.put(o.requestId(), o));
                }
            }
            runToEnd(engine, outs);
            for (int i = 0; i < prompts.length; i++) {
                assertArrayEquals(generatorTokens(prompts[i], SamplingParams.greedy(maxTokens[i])),
                        outs.get("r" + i).outputs().getFirst().tokens(), "request r" + i);
            }
            assertAllFree(engine);
        }
    }

    /** A device pool too small for all requests at once forces preemption; outputs stay identical. */
    private void preemptionKeepsGreedyOutputs(PreemptionMode mode, int cpuBlocks) {
        int[][] prompts = {prompt(6, 1), prompt(9, 2), prompt(5, 3), prompt(8, 4)};
        int maxTokens = 16;
        Map<String, RequestOutput> outs = new HashMap<>();
        int promptTotal = Arrays.stream(prompts).mapToInt(p -> p.length).sum();
        try (PagedEngine engine = engine(config(4, 14, cpuBlocks, false, 64, mode))) {
            for (int i = 0; i < prompts.length; i++) {
                engine.add(greedy("r" + i, prompts[i], maxTokens));
            }
            int maxSwapped = 0;
            while (engine.hasUnfinished()) {
                engine.step().forEach(o -> outs.put(o.requestId(), o));
                maxSwapped = Math.max(maxSwapped, engine.stats().swapped());
            }
            for (int i = 0; i < prompts.length; i++) {
                assertArrayEquals(generatorTokens(prompts[i], SamplingParams.greedy(maxTokens)),
                        outs.get("r" + i).outputs().getFirst().tokens(), mode + ": request r" + i);
            }
            if (mode == PreemptionMode.SWAP) {
                assertTrue(maxSwapped > 0, "a request was swapped out");
            } else {
                assertTrue(engine.stats().promptTokens() > promptTotal, "a request was recomputed: "
                        + engine.stats().promptTokens() + " prompt tokens computed for " + promptTotal);
            }
            assertAllFree(engine);
        }
    }

    @Test
    void preemptionBySwappingKeepsGreedyOutputs() {
        preemptionKeepsGreedyOutputs(PreemptionMode.SWAP, 32);
    }

    @Test
    void preemptionByRecomputationKeepsGreedyOutputs() {
        preemptionKeepsGreedyOutputs(PreemptionMode.RECOMPUTE, 0);
    }

    /** A shared 12-token system prompt is computed once; the outputs are those of the generator. */
    @Test
    void prefixCachingKeepsGreedyOutputs() {
        int[] system = prompt(12, 7);
        int[][] prompts = {ReferenceBeamSearch.concat(system, new int[] {5, 6}),
            ReferenceBeamSearch.concat(system, new int[] {9}), ReferenceBeamSearch.concat(system, new int[] {1, 2, 3})};
        Map<String, RequestOutput> outs = new HashMap<>();
        try (PagedEngine engine = engine(config(4, 40, 0, true, 64, PreemptionMode.SWAP))) {
            engine.add(greedy("r0", prompts[0], 8));
            engine.step().forEach(o -> outs.put(o.requestId(), o)); // r0's prompt is computed and cached
            engine.add(greedy("r1", prompts[1], 8));
            engine.add(greedy("r2", prompts[2], 8));
            runToEnd(engine, outs);
            for (int i = 0; i < prompts.length; i++) {
                assertArrayEquals(generatorTokens(prompts[i], SamplingParams.greedy(8)),
                        outs.get("r" + i).outputs().getFirst().tokens(), "request r" + i);
            }
            int total = Arrays.stream(prompts).mapToInt(p -> p.length).sum();
            assertEquals(total - 2 * 12, engine.stats().promptTokens(), "r1 and r2 reuse the 3 system blocks");
            assertAllFree(engine);
        }
    }

    // ---------------------------------------------------------------- sampling, best_of, beams, mixed

    @Test
    void parallelSamplesWithASeedEqualTheGeneratorsSamples() {
        int[] prompt = prompt(6, 2);
        SamplingParams params = new SamplingParams(1.0, 10, 0.9, 5L, 10, null);
        List<Generator.Completion> expected = new Generator(model).generate(prompt, params, 3);
        try (PagedEngine engine = engine(config(4, 40, 0, false, 64, PreemptionMode.SWAP))) {
            engine.add(new CompletionRequest("s", prompt, params, 3, 3, false, -1, List.of()));
            RequestOutput out = runToEnd(engine, new HashMap<>()).get("s");
            assertEquals(3, out.outputs().size());
            for (int i = 0; i < 3; i++) {
                assertEquals(i, out.outputs().get(i).index());
                assertArrayEquals(expected.get(i).tokens(), out.outputs().get(i).tokens(), "sample " + i);
            }
            assertFalse(Arrays.equals(out.outputs().get(0).tokens(), out.outputs().get(1).tokens()));
            assertAllFree(engine);
        }
    }

    /** best_of 4, n 2: the two of the generator's four seeded samples with the highest cumulative log-probability. */
    @Test
    void bestOfReturnsTheMostLikelySamples() {
        int[] prompt = prompt(5, 4);
        double temperature = 0.8;
        SamplingParams params = new SamplingParams(temperature, 0, 1.0, 21L, 6, null);
        List<Generator.Completion> all = new Generator(model).generate(prompt, params, 4);
        List<int[]> expected = all.stream().map(Generator.Completion::tokens)
                .sorted(Comparator.comparingDouble((int[] t) -> -plainCumulativeLogprob(prompt, t, temperature)))
                .limit(2).toList();
        try (PagedEngine engine = engine(config(4, 40, 0, false, 64, PreemptionMode.SWAP))) {
            engine.add(new CompletionRequest("b", prompt, params, 2, 4, false, -1, List.of()));
            RequestOutput out = runToEnd(engine, new HashMap<>()).get("b");
            assertEquals(2, out.outputs().size());
            for (int i = 0; i < 2; i++) {
                assertArrayEquals(expected.get(i), out.outputs().get(i).tokens(), "rank " + i);
                assertEquals(plainCumulativeLogprob(prompt, expected.get(i), temperature),
                        out.outputs().get(i).cumulativeLogprob(), 1e-4);
            }
            assertAllFree(engine);
        }
    }

    /** Σ log softmax(plain logits / T)[token] over the generated tokens. */
    private static double plainCumulativeLogprob(int[] prompt, int[] tokens, double temperature) {
        double sum = 0;
        int[] seq = prompt;
        for (int t : tokens) {
            float[] logits = ReferenceBeamSearch.lastLogits(model, seq);
            float[] scaled = new float[logits.length];
            for (int i = 0; i < logits.length; i++) {
                scaled[i] = (float) (logits[i] / temperature);
            }
            sum += ReferenceBeamSearch.logSoftmax(scaled)[t];
            seq = ReferenceBeamSearch.concat(seq, new int[] {t});
        }
        return sum;
    }

    private static void assertBeamsEqualTheReference(RequestOutput out, int[] prompt, int width, int n,
            int maxTokens, int[] stops) {
        List<ReferenceBeamSearch.Result> expected = ReferenceBeamSearch.search(model, prompt, width, maxTokens, stops);
        assertEquals(Math.min(n, expected.size()), out.outputs().size());
        for (int i = 0; i < out.outputs().size(); i++) {
            CompletionOutput c = out.outputs().get(i);
            assertArrayEquals(expected.get(i).tokens(), c.tokens(), "beam hypothesis " + i);
            assertEquals(expected.get(i).cumulative(), c.cumulativeLogprob(), 1e-4, "hypothesis " + i);
        }
    }

    @Test
    void beamSearchEqualsAnUnpagedReferenceBeamSearch() {
        int[] prompt = prompt(7, 6);
        try (PagedEngine engine = engine(config(4, 64, 0, false, 64, PreemptionMode.SWAP))) {
            engine.add(new CompletionRequest("beam", prompt, SamplingParams.greedy(8), 3, 4, true, -1, List.of()));
            RequestOutput out = runToEnd(engine, new HashMap<>()).get("beam");
            assertBeamsEqualTheReference(out, prompt, 4, 3, 8, new int[0]);
            assertAllFree(engine);
        }
    }

    /** With a stop token that the beams meet, hypotheses end early (and beams of different lengths compete). */
    @Test
    void beamSearchWithAStopTokenEqualsTheReference() {
        int[] prompt = prompt(5, 8);
        // a token the unrestricted search produces early becomes the stop token
        int[] stop = {ReferenceBeamSearch.search(model, prompt, 3, 6, new int[0]).getFirst().tokens()[1]};
        try (PagedEngine engine = engine(config(4, 64, 0, false, 64, PreemptionMode.SWAP))) {
            engine.add(new CompletionRequest("beam", prompt, SamplingParams.greedy(10).withStopTokens(stop), 3, 3,
                    true, -1, List.of()));
            RequestOutput out = runToEnd(engine, new HashMap<>()).get("beam");
            assertBeamsEqualTheReference(out, prompt, 3, 3, 10, stop);
            assertTrue(out.outputs().stream().anyMatch(c -> c.finishReason().equals("stop")));
            assertAllFree(engine);
        }
    }

    /**
     * Beam search and parallel samples preempted by recomputation with a small token budget: the recomputed beams
     * come back in chunks of different lengths and must wait for each other before the next beam step.
     */
    @Test
    void beamsAndSamplesSurvivePreemptionByRecomputation() {
        int[] p1 = prompt(9, 5);
        int[] p2 = prompt(7, 6);
        int[] p3 = prompt(8, 2);
        SamplingParams sampled = new SamplingParams(1.0, 0, 1.0, 4L, 12, null);
        try (PagedEngine engine = engine(config(4, 16, 0, false, 10, PreemptionMode.RECOMPUTE))) {
            engine.add(new CompletionRequest("s", p1, sampled, 2, 2, false, -1, List.of()));
            engine.add(new CompletionRequest("beam", p2, SamplingParams.greedy(12), 2, 3, true, -1, List.of()));
            engine.add(greedy("g", p3, 12));
            Map<String, RequestOutput> outs = runToEnd(engine, new HashMap<>());
            int promptTotal = p1.length + p2.length + p3.length;
            assertTrue(engine.stats().promptTokens() > promptTotal, "something was recomputed");
            List<Generator.Completion> samples = new Generator(model).generate(p1, sampled, 2);
            for (int i = 0; i < 2; i++) {
                assertArrayEquals(samples.get(i).tokens(), outs.get("s").outputs().get(i).tokens(), "sample " + i);
            }
            assertBeamsEqualTheReference(outs.get("beam"), p2, 3, 2, 12, new int[0]);
            assertArrayEquals(generatorTokens(p3, SamplingParams.greedy(12)), outs.get("g").outputs().getFirst()
                    .tokens());
            assertAllFree(engine);
        }
    }

    /** Greedy, seeded parallel samples and beam search in one batch, under a pool small enough to swap. */
    @Test
    void differentMethodsMixInOneBatch() {
        int[] p1 = prompt(6, 1);
        int[] p2 = prompt(4, 2);
        int[] p3 = prompt(5, 3);
        SamplingParams sampled = new SamplingParams(0.9, 0, 1.0, 77L, 9, null);
        try (PagedEngine engine = engine(config(4, 24, 32, false, 64, PreemptionMode.SWAP))) {
            engine.add(greedy("g", p1, 12));
            engine.add(new CompletionRequest("s", p2, sampled, 2, 2, false, -1, List.of()));
            engine.add(new CompletionRequest("beam", p3, SamplingParams.greedy(7), 2, 3, true, -1, List.of()));
            Map<String, RequestOutput> outs = runToEnd(engine, new HashMap<>());
            assertArrayEquals(generatorTokens(p1, SamplingParams.greedy(12)), outs.get("g").outputs().getFirst()
                    .tokens());
            List<Generator.Completion> samples = new Generator(model).generate(p2, sampled, 2);
            for (int i = 0; i < 2; i++) {
                assertArrayEquals(samples.get(i).tokens(), outs.get("s").outputs().get(i).tokens(), "sample " + i);
            }
            assertBeamsEqualTheReference(outs.get("beam"), p3, 3, 2, 7, new int[0]);
            assertAllFree(engine);
        }
    }

    // ---------------------------------------------------------------- stop strings, logprobs, abort, errors

    @Test
    void stopStringsCutTheTextAndEndTheCompletion() {
        int[] prompt = prompt(4, 9);
        int[] free = generatorTokens(prompt, SamplingParams.greedy(12));
        StringBuilder text = new StringBuilder();
        for (int t : free) {
            text.append(TwoCharTokenizer.text(t));
        }
        // three characters from the middle of token 3 into token 4: the stop string spans two tokens
        String stop = text.substring(7, 10);
        int cut = text.indexOf(stop);
        try (PagedEngine engine = engine(config(4, 32, 0, false, 64, PreemptionMode.SWAP))) {
            engine.add(new CompletionRequest("t", prompt, SamplingParams.greedy(12), 1, 1, false, -1,
                    List.of("zz9", stop)));
            CompletionOutput c = runToEnd(engine, new HashMap<>()).get("t").outputs().getFirst();
            assertEquals(text.substring(0, cut), c.text());
            assertEquals("stop", c.finishReason());
            int tokensToStop = (cut + stop.length() + 1) / 2; // the token that completes the stop string is the last
            assertArrayEquals(Arrays.copyOf(free, tokensToStop), c.tokens());
            assertAllFree(engine);
        }
    }

    @Test
    void logprobsAreTheLogSoftmaxOfThePlainForwardsScaledLogits() {
        int[] prompt = prompt(5, 11);
        double temperature = 0.7;
        SamplingParams params = new SamplingParams(temperature, 0, 1.0, 3L, 6, null);
        try (PagedEngine engine = engine(config(4, 32, 0, false, 64, PreemptionMode.SWAP))) {
            engine.add(new CompletionRequest("l", prompt, params, 1, 1, false, 3, List.of()));
            CompletionOutput c = runToEnd(engine, new HashMap<>()).get("l").outputs().getFirst();
            assertNotNull(c.logprobs());
            assertEquals(c.tokens().length, c.logprobs().size());
            int[] seq = prompt;
            double cumulative = 0;
            for (int i = 0; i < c.tokens().length; i++) {
                float[] logits = ReferenceBeamSearch.lastLogits(model, seq);
                double[] expected = new double[logits.length];
                double max = Double.NEGATIVE_INFINITY;
                for (float z : logits) {
                    max = Math.max(max, z / temperature);
                }
                double sum = 0;
                for (float z : logits) {
                    sum += Math.exp(z / temperature - max);
                }
                for (int v = 0; v < logits.length; v++) {
                    expected[v] = logits[v] / temperature - max - Math.log(sum);
                }
                Integer[] order = new Integer[logits.length];
                for (int v = 0; v < order.length; v++) {
                    order[v] = v;
                }
                Arrays.sort(order, (a, b) -> Double.compare(expected[b], expected[a]));
                TokenLogprob lp = c.logprobs().get(i);
                assertEquals(c.tokens()[i], lp.token());
                assertEquals(expected[lp.token()], lp.logprob(), 1e-5, "token " + i);
                assertEquals(3, lp.topTokens().length);
                for (int k = 0; k < 3; k++) {
                    assertEquals(order[k], lp.topTokens()[k], "alternative " + k + " of token " + i);
                    assertEquals(expected[order[k]], lp.topLogprobs()[k], 1e-5);
                }
                cumulative += expected[lp.token()];
                seq = ReferenceBeamSearch.concat(seq, new int[] {c.tokens()[i]});
            }
            assertEquals(cumulative, c.cumulativeLogprob(), 1e-4);
            assertAllFree(engine);
        }
    }

    @Test
    void abortMidRunFreesTheBlocks() {
        try (PagedEngine engine = engine(config(4, 32, 0, false, 64, PreemptionMode.SWAP))) {
            engine.add(greedy("keep", prompt(6, 1), 10));
            engine.add(new CompletionRequest("drop", prompt(9, 2), new SamplingParams(1.0, 0, 1.0, 1L, 30, null),
                    3, 3, false, -1, List.of()));
            for (int s = 0; s < 4; s++) {
                engine.step();
            }
            int usedBefore = engine.stats().deviceKv().usedBlocks();
            assertTrue(engine.abort("drop"));
            assertFalse(engine.abort("drop"), "no longer live");
            assertTrue(engine.stats().deviceKv().usedBlocks() < usedBefore);
            Map<String, RequestOutput> outs = runToEnd(engine, new HashMap<>());
            assertFalse(outs.containsKey("drop") && outs.get("drop").finished());
            assertArrayEquals(generatorTokens(prompt(6, 1), SamplingParams.greedy(10)),
                    outs.get("keep").outputs().getFirst().tokens());
            assertAllFree(engine);
        }
    }

    @Test
    void badRequestsAreRejectedNamingTheValue() {
        try (PagedEngine engine = engine(config(4, 32, 0, false, 64, PreemptionMode.SWAP))) {
            SamplingParams g = SamplingParams.greedy(4);
            List<Object[]> cases = new ArrayList<>();
            cases.add(new Object[] {new CompletionRequest("a", new int[48], g, 1, 1, false, -1, List.of()), "48 tokens"});
            cases.add(new Object[] {new CompletionRequest("a", new int[] {1, 50}, g, 1, 1, false, -1, List.of()),
                "token 50 at position 1"});
            cases.add(new Object[] {new CompletionRequest("a", new int[0], g, 1, 1, false, -1, List.of()), "empty"});
            cases.add(new Object[] {new CompletionRequest("a", new int[] {1}, g, 3, 2, false, -1, List.of()),
                "best_of (2) must be >= n (3)"});
            cases.add(new Object[] {new CompletionRequest("a", new int[] {1}, g, 1, 1, false, -2, List.of()),
                "got -2"});
            cases.add(new Object[] {new CompletionRequest("a", new int[] {1}, g, 1, 1, false, -1, List.of("")),
                "non-empty"});
            cases.add(new Object[] {new CompletionRequest("a", new int[] {1}, g, 1, 17, false, -1, List.of()),
                "best_of 17"});
            for (Object[] c : cases) {
                var e = assertThrows(IllegalArgumentException.class, () -> engine.add((CompletionRequest) c[0]));
                assertTrue(e.getMessage().contains((String) c[1]), e.getMessage());
            }
            engine.add(greedy("a", new int[] {1, 2}, 2));
            var dup = assertThrows(IllegalArgumentException.class, () -> engine.add(greedy("a", new int[] {1}, 2)));
            assertTrue(dup.getMessage().contains("a is already live"), dup.getMessage());
            runToEnd(engine, new HashMap<>());
            assertAllFree(engine);
        }
    }
}
