package ai.fulgur.training.gpt2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.fulgur.training.nn.KvCache;
import java.io.IOException;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Decoding with a KV cache gives the logits of the full forward pass: the HF fixture's GPT-2 prefills the first tokens
 * of its two input sequences, then decodes the rest one token at a time, and each step's logits (B, V) must equal the
 * full forward's logits at that position within 1e-5 (and transformers' stored logits within 1e-4).
 */
class Gpt2KvCacheTest {
    private static final double TOLERANCE = 1e-5;
    private static final int PROMPT = 7;

    @ParameterizedTest
    @ValueSource(strings = {"Fulgur", "PyTorch"})
    void prefillThenDecodeMatchesFullForward(String engine) throws IOException {
        try (Gpt2Model gpt2 = Gpt2Model.load(Gpt2TestSupport.fixtureDir(), Device.cpu(), engine);
                NDManager m = gpt2.getManager().newSubManager()) {
            Map<String, NDArray> expected = Gpt2TestSupport.expected(m);
            NDArray ids = expected.get("input_ids");                    // (2, 19)
            long t = ids.getShape().get(1);
            int v = gpt2.getConfig().vocabSize();
            float[] full = gpt2.forward(ids).toFloatArray();           // (2, 19, V)
            float[] transformers = expected.get("logits").toFloatArray();
            double worst = 0;
            double worstVsHf = 0;
            try (KvCache cache = gpt2.newCache(m, 2)) {
                NDArray logits = gpt2.prefill(ids.get(new NDIndex(":, 0:{}", PROMPT)), cache);
                assertEquals(new Shape(2, v), logits.getShape());
                assertEquals(PROMPT, cache.length());
                for (int pos = PROMPT - 1; pos < t; pos++) {
                    float[] step = logits.toFloatArray();
                    worst = Math.max(worst, Gpt2TestSupport.maxAbsDiff("position " + pos,
                            at(full, pos, t, v), step));
                    worstVsHf = Math.max(worstVsHf, Gpt2TestSupport.maxAbsDiff("position " + pos,
                            at(transformers, pos, t, v), step));
                    logits.close();
                    if (pos + 1 < t) {
                        logits = gpt2.decode(ids.get(new NDIndex(":, {}", pos + 1)), cache); // (2) next tokens
                        assertEquals(pos + 2, cache.length());
                    }
                }
            }
            System.out.printf("GPT-2 KV-cache decode on %s: max |cached - full| = %.3e, vs transformers %.3e%n",
                    engine, worst, worstVsHf);
            assertTrue(worst <= TOLERANCE, engine + ": cached decoding differs from the full forward by " + worst);
            assertTrue(worstVsHf <= 1e-4, engine + ": cached decoding differs from transformers by " + worstVsHf);
        }
    }

    /** Logits (B, V) at position {@code pos} of logits (B, T, V). */
    private static float[] at(float[] logits, int pos, long t, int v) {
        int b = (int) (logits.length / (t * v));
        float[] out = new float[b * v];
        for (int i = 0; i < b; i++) {
            System.arraycopy(logits, (int) ((i * t + pos) * v), out, i * v, v);
        }
        return out;
    }

    /** A decode step leaves nothing behind but its logits: a generation loop does not grow any manager. */
    @ParameterizedTest
    @ValueSource(strings = {"Fulgur", "PyTorch"})
    void decodeStepsFreeTheirIntermediates(String engine) {
        Gpt2Config config = Gpt2Config.builder().nLayer(2).nHead(2).nEmbd(16).nPositions(16).vocabSize(20).build()
                .withDropout(0);
        try (Gpt2Model gpt2 = Gpt2Model.newModel(config, ai.djl.Device.cpu(), engine, 3);
                NDManager m = gpt2.getManager().newSubManager();
                KvCache cache = gpt2.newCache(m, 1)) {
            gpt2.prefill(m.create(new long[] {1, 2, 3}, new Shape(1, 3)), cache).close();
            int before = gpt2.getManager().getManagedArrays().size();
            for (int i = 0; i < 5; i++) {
                try (NDArray token = m.create(new long[] {4 + i})) {
                    gpt2.decode(token, cache).close();
                }
            }
            assertEquals(before, gpt2.getManager().getManagedArrays().size(),
                    "arrays left in the model's managers after 5 decode steps");
            assertEquals(8, cache.length());
            try (NDArray probe = m.zeros(new Shape(1))) { // the count covers the request's sub-manager
                assertEquals(before + 1, gpt2.getManager().getManagedArrays().size());
            }
        }
    }

    @Test
    void cacheRejectsOverflowAndWrongBatchAndTruncates() throws IOException {
        Gpt2Config config = Gpt2Config.builder().nLayer(1).nHead(2).nEmbd(16).nPositions(8).vocabSize(20).build()
                .withDropout(0);
        try (Gpt2Model gpt2 = Gpt2Model.newModel(config, 3);
                NDManager m = gpt2.getManager().newSubManager();
                KvCache cache = gpt2.newCache(m, 1)) {
            assertEquals(new Shape(1, 8, 2, 8), cache.keys(0).getShape());
            NDArray prompt = m.create(new long[] {1, 2, 3, 4, 5, 6}, new Shape(1, 6));
            float[] first = gpt2.prefill(prompt, cache).toFloatArray();
            IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
                    () -> gpt2.prefill(m.create(new long[] {1, 2, 3}, new Shape(1, 3)), cache));
            assertTrue(tooLong.getMessage().contains("exceed maxLength 8"), tooLong.getMessage());
            IllegalArgumentException batch = assertThrows(IllegalArgumentException.class,
                    () -> gpt2.decode(m.create(new long[] {1, 2}), cache));
            assertTrue(batch.getMessage().contains("batch size 1"), batch.getMessage());
            assertEquals(6, cache.length(), "a rejected call leaves the cache as it was");
            // rolling back and running the same prompt again gives the same logits
            cache.truncate(0);
            assertTrue(Arrays.equals(first, gpt2.prefill(prompt, cache).toFloatArray()));
            assertThrows(IllegalArgumentException.class, () -> cache.truncate(7));
        }
    }
}
