package ai.fulgur.inference.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.fulgur.inference.generate.Generator;
import ai.fulgur.inference.sampling.SamplingParams;
import ai.fulgur.inference.scheduler.PreemptionMode;
import ai.fulgur.ops.Backends;
import ai.fulgur.training.gpt2.Gpt2Config;
import ai.fulgur.training.gpt2.Gpt2Model;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The paged engine on the GPU (CUDA paged KV kernels, F32 pools, swapping through the CPU pool) against the plain
 * generator and the unpaged reference beam search on the same GPU model. Skipped, with the reason printed, where
 * there is no GPU.
 */
@Tag("gpu")
class PagedEngineGpuTest {

    @Test
    void greedySamplesAndBeamsOnTheGpuEqualTheUnpagedReferences() {
        boolean gpu = Backends.isAvailable(ai.fulgur.ops.Device.Kind.CUDA);
        if (!gpu) {
            System.out.println("[gpu] skipped: " + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
        }
        Assumptions.assumeTrue(gpu, () -> "no CUDA device: " + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
        Gpt2Config config = Gpt2Config.builder().nLayer(2).nHead(2).nEmbd(32).nPositions(48).vocabSize(50)
                .residPdrop(0).embdPdrop(0).attnPdrop(0).build();
        try (Gpt2Model model = Gpt2Model.newModel(config, Device.gpu(0), "Fulgur", 9)) {
            TestModels.sharpen(model);
            int[] p1 = {16, 23, 30, 37, 44, 1};
            int[] p2 = {29, 36, 43, 0, 7, 14, 21, 28, 35};
            int[] p3 = {42, 49, 6, 13, 20};
            int[] p4 = {5, 12, 19, 26, 33, 40, 47, 4};
            SamplingParams sampled = new SamplingParams(0.9, 0, 1.0, 77L, 12, null);
            EngineConfig small = new EngineConfig(4, 12, 40, false, 64, 16, PreemptionMode.SWAP);
            Map<String, RequestOutput> outs = new HashMap<>();
            int maxSwapped = 0;
            try (PagedEngine engine = new PagedEngine(model, new TwoCharTokenizer(50), small)) {
                engine.add(new CompletionRequest("g1", p1, SamplingParams.greedy(16), 1, 1, false, -1, List.of()));
                engine.add(new CompletionRequest("g2", p2, SamplingParams.greedy(16), 1, 1, false, -1, List.of()));
                engine.add(new CompletionRequest("s", p3, sampled, 2, 2, false, -1, List.of()));
                engine.add(new CompletionRequest("beam", p4, SamplingParams.greedy(8), 2, 3, true, -1, List.of()));
                for (int step = 0; engine.hasUnfinished(); step++) {
                    assertTrue(step < 500, "the engine did not finish");
                    engine.step().forEach(o -> outs.put(o.requestId(), o));
                    maxSwapped = Math.max(maxSwapped, engine.stats().swapped());
                }
                assertEquals(engine.blockManager().devicePool().capacity(), engine.blockManager().numFreeBlocks());
                assertEquals(engine.blockManager().cpuPool().capacity(), engine.blockManager().numFreeCpuBlocks());
            }
            System.out.println("[gpu] paged engine: max swapped requests " + maxSwapped);
            Generator generator = new Generator(model);
            assertArrayEquals(generator.generate(p1, SamplingParams.greedy(16), 1).getFirst().tokens(),
                    outs.get("g1").outputs().getFirst().tokens(), "g1");
            assertArrayEquals(generator.generate(p2, SamplingParams.greedy(16), 1).getFirst().tokens(),
                    outs.get("g2").outputs().getFirst().tokens(), "g2");
            List<Generator.Completion> samples = generator.generate(p3, sampled, 2);
            for (int i = 0; i < 2; i++) {
                assertArrayEquals(samples.get(i).tokens(), outs.get("s").outputs().get(i).tokens(), "sample " + i);
            }
            List<ReferenceBeamSearch.Result> beams = ReferenceBeamSearch.search(model, p4, 3, 8, new int[0]);
            for (int i = 0; i < 2; i++) {
                assertArrayEquals(beams.get(i).tokens(), outs.get("beam").outputs().get(i).tokens(), "beam " + i);
            }
            assertTrue(maxSwapped > 0, "the small pool forced a swap");
        }
    }
}
