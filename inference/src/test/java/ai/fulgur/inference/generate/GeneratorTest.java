package ai.fulgur.inference.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.fulgur.inference.sampling.Sampler;
import ai.fulgur.inference.sampling.SamplingParams;
import ai.fulgur.training.gpt2.Gpt2Config;
import ai.fulgur.training.gpt2.Gpt2Model;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class GeneratorTest {
    private static Gpt2Model model;

    @BeforeAll
    static void model() {
        model = Gpt2Model.newModel(Gpt2Config.builder().nLayer(2).nHead(2).nEmbd(32).nPositions(24).vocabSize(50)
                .residPdrop(0).embdPdrop(0).attnPdrop(0).build(), 9);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** Greedy decoding with the cache equals greedy decoding by re-running the whole sequence at every step. */
    @Test
    void greedyWithTheCacheEqualsGreedyWithoutIt() {
        int[] prompt = {3, 17, 42, 8, 8};
        Generator.Completion c = new Generator(model).generate(prompt, SamplingParams.greedy(12), 1).get(0);
        int[] sequence = prompt.clone();
        try (NDManager m = model.getManager().newSubManager()) {
            for (int step = 0; step < 12; step++) {
                NDArray logits = model.forward(m.create(sequence, new Shape(1, sequence.length)));
                float[] last = logits.get(new NDIndex("0, -1, :")).toFloatArray();
                sequence = Arrays.copyOf(sequence, sequence.length + 1);
                sequence[sequence.length - 1] = Sampler.argMax(last);
            }
        }
        assertArrayEquals(Arrays.copyOfRange(sequence, prompt.length, sequence.length), c.tokens());
        assertEquals("length", c.finishReason());
    }

    @Test
    void stopTokensEndASequenceAndTheContextLimitsIt() {
        int[] prompt = {1, 2, 3};
        int first = new Generator(model).generate(prompt, SamplingParams.greedy(5), 1).get(0).tokens()[0];
        Generator.Completion stopped = new Generator(model).generate(prompt, SamplingParams.greedy(5)
                .withStopTokens(first), 1).get(0);
        assertArrayEquals(new int[] {first}, stopped.tokens());
        assertEquals("stop", stopped.finishReason());
        int[] longPrompt = new int[20];
        Generator.Completion full = new Generator(model).generate(longPrompt, SamplingParams.greedy(100), 1).get(0);
        assertEquals(4, full.tokens().length, "24 positions - 20 prompt tokens");
    }

    @Test
    void seededSamplesAreReproducibleAndDiffer() {
        SamplingParams p = new SamplingParams(1.0, 0, 1.0, 5L, 10, null);
        List<Generator.Completion> a = new Generator(model).generate(new int[] {4, 5}, p, 3);
        List<Generator.Completion> b = new Generator(model).generate(new int[] {4, 5}, p, 3);
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(a.get(i).tokens(), b.get(i).tokens());
        }
        assertNotEquals(Arrays.toString(a.get(0).tokens()), Arrays.toString(a.get(1).tokens()));
    }

    @Test
    void badPromptsAreNamed() {
        Generator g = new Generator(model);
        var e = assertThrows(IllegalArgumentException.class, () -> g.generate(new int[24], SamplingParams.greedy(1),
                1));
        assertTrue(e.getMessage().contains("24 tokens") && e.getMessage().contains("n_positions"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> g.generate(new int[] {1, 77}, SamplingParams.greedy(1),
                1));
        assertTrue(e.getMessage().contains("77") && e.getMessage().contains("position 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> g.generate(new int[0], SamplingParams.greedy(1), 1));
    }
}
