package ai.fulgur.training.gpt2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.training.nn.FlashMultiHeadAttention;
import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A GPT2LMHeadModel saved by transformers 5.17.0 loads into Fulgur's GPT-2 and gives the logits transformers computed
 * for the same input ids (float32, eval mode), within 1e-4: on the Fulgur engine (FlashAttention, fused tanh GELU)
 * and, as a cross-check of the mapping independent of Fulgur's kernels, on DJL's PyTorch engine (attention and GELU
 * composed from standard ops).
 */
class Gpt2HfFixtureTest {
    private static final double TOLERANCE = 1e-4;

    @ParameterizedTest
    @ValueSource(strings = {"Fulgur", "PyTorch"})
    void loadedFixtureReproducesTransformersLogits(String engine) throws IOException {
        try (Gpt2Model gpt2 = Gpt2Model.load(Gpt2TestSupport.fixtureDir(), Device.cpu(), engine);
                NDManager m = gpt2.getManager().newSubManager()) {
            Gpt2Config c = gpt2.getConfig();
            assertEquals(2, c.nLayer());
            assertEquals(509, c.vocabSize());
            assertTrue(c.tieWordEmbeddings());
            assertInstanceOf(FlashMultiHeadAttention.class, gpt2.getBlock().getLayers().get(0).getAttention());
            Map<String, NDArray> expected = Gpt2TestSupport.expected(m);
            NDArray ids = expected.get("input_ids");
            NDArray logits = gpt2.forward(ids);
            if (engine.equals("Fulgur")) {
                assertInstanceOf(FulgurNDArray.class, logits);
            }
            assertEquals(new Shape(2, 19, 509), logits.getShape());
            double diff = Gpt2TestSupport.maxAbsDiff("logits on " + engine, expected.get("logits").toFloatArray(),
                    logits.toFloatArray());
            System.out.printf("GPT-2 fixture on %s: max |logits - transformers| = %.3e (tolerance %.0e)%n", engine,
                    diff, TOLERANCE);
            assertTrue(diff <= TOLERANCE, engine + ": max |logits - transformers| " + diff + " > " + TOLERANCE);
        }
    }
}
