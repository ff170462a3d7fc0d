package ai.fulgur.inference.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.fulgur.inference.kvcache.BlockManager;
import ai.fulgur.inference.kvcache.SequenceGroup;
import ai.fulgur.inference.sampling.SamplingParams;
import ai.fulgur.inference.scheduler.PreemptionMode;
import ai.fulgur.inference.scheduler.Scheduler;
import ai.fulgur.inference.scheduler.SchedulerConfig;
import ai.fulgur.inference.scheduler.SchedulerOutput;
import ai.fulgur.training.gpt2.Gpt2Config;
import ai.fulgur.training.gpt2.Gpt2Model;
import ai.fulgur.training.nn.TransformerBlock;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ModelRunnerTest {
    private static Gpt2Model model;

    @BeforeAll
    static void model() {
        model = Gpt2Model.newModel(Gpt2Config.builder().nLayer(2).nHead(2).nEmbd(32).nPositions(32).vocabSize(50)
                .residPdrop(0).embdPdrop(0).attnPdrop(0).build(), 11);
        // GPT-2's initialisation (std 0.02) leaves attention almost uniform, so that a wrong or permuted cache
        // barely changes the output; sharper queries and keys make the tests see which keys are read
        for (TransformerBlock layer : model.getBlock().getLayers()) {
            layer.getAttention().getQkvProjection().getParameters().get("weight").getArray().muli(8);
        }
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** The plain forward's logits at the last position of {@code tokens}. */
    private static float[] plainLastLogits(int[] tokens) {
        try (NDManager m = model.getManager().newSubManager()) {
            NDArray logits = model.forward(m.create(tokens, new Shape(1, tokens.length)));
            return logits.get(new NDIndex("0, -1, :")).toFloatArray();
        }
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        double max = 0;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i] - actual[i]));
        }
        System.out.printf("paged vs plain logits, %s: max |diff| = %.3g%n", what, max);
        assertEquals(0, max, 2e-5, what + ": max |paged - plain| logits");
    }

    /**
     * A batch mixing a finished prompt, a chunked prompt, a decode and a prefill over several blocks, with block
     * size 4 so that sequences span blocks: every sampled row equals the plain forward's last-position logits.
     */
    @Test
    void pagedLogitsEqualThePlainForwardForAMixedBatch() {
        mixedBatch();
    }

    /**
     * The same with prefill chunks on the paged kernel's row path instead of the FlashAttention kernels over the
     * gathered contexts (the default): both paths reproduce the plain forward.
     */
    @Test
    void prefillOnThePagedRowPathAgrees() {
        System.setProperty("fulgur.paged.prefill", "rows");
        try {
            mixedBatch();
        } finally {
            System.clearProperty("fulgur.paged.prefill");
        }
    }

    private static void mixedBatch() {
        BlockManager blocks = new BlockManager(4, 24, 0, false, null);
        Scheduler scheduler = new Scheduler(new SchedulerConfig(10, 8, PreemptionMode.RECOMPUTE), blocks);
        int[] a = {3, 17, 42, 8, 8};
        int[] b = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        int[] c = {40, 41, 7};
        SequenceGroup ga = new SequenceGroup("a", a, SamplingParams.greedy(4), 1, 0);
        SequenceGroup gb = new SequenceGroup("b", b, SamplingParams.greedy(4), 1, 1);
        scheduler.add(ga);
        scheduler.add(gb);
        try (ModelRunner runner = new ModelRunner(model, blocks)) {
            SchedulerOutput step1 = scheduler.schedule();                 // a: 5 tokens, b: the first 5 of 9
            assertEquals(2, step1.chunks().size());
            assertFalse(step1.chunks().get(1).samples());
            List<ModelRunner.SequenceLogits> out1 = runner.execute(step1);
            scheduler.completeStep(step1);
            assertEquals(1, out1.size());
            assertSame(ga.sequences().getFirst(), out1.getFirst().sequence());
            assertClose(plainLastLogits(a), out1.getFirst().logits(), "prompt a");

            ga.sequences().getFirst().appendToken(33);
            SequenceGroup gc = new SequenceGroup("c", c, SamplingParams.greedy(4), 1, 2);
            scheduler.add(gc);
            SchedulerOutput step2 = scheduler.schedule();                 // a: decode, b: 4 more, c: 3
            assertEquals(3, step2.chunks().size());
            List<ModelRunner.SequenceLogits> out2 = runner.execute(step2);
            scheduler.completeStep(step2);
            assertEquals(3, out2.size());
            assertClose(plainLastLogits(new int[] {3, 17, 42, 8, 8, 33}), out2.get(0).logits(), "decode of a");
            assertClose(plainLastLogits(b), out2.get(1).logits(), "chunked prompt b");
            assertClose(plainLastLogits(c), out2.get(2).logits(), "prompt c");
        }
    }
}
