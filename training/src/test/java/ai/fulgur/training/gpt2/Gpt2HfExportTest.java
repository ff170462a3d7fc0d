package ai.fulgur.training.gpt2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.fulgur.training.checkpoint.ReferenceLogits;
import ai.fulgur.training.checkpoint.Safetensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Writes Fulgur-made GPT-2 checkpoints with their logits to {@code target/hf-export/gpt2-fulgur-tied} and
 * {@code -untied}, for {@code tools/hf-fixtures/check_fulgur_checkpoint.py} to load in transformers on the GPU
 * machine. The weights use a wide initialisation (σ = 0.2) so the logits spread over several units and a wrong
 * layout would show far above float32 noise. Here the export is read back and checked on Fulgur.
 */
class Gpt2HfExportTest {
    static final Path EXPORT_DIR = Path.of("target", "hf-export");

    @Test
    void exportsCheckpointsWithReferenceLogits() throws IOException {
        for (boolean tied : new boolean[] {true, false}) {
            Gpt2Config config = Gpt2Config.builder().nLayer(2).nHead(4).nEmbd(32).nPositions(24).vocabSize(101)
                    .initializerRange(0.2f).tieWordEmbeddings(tied).build().withDropout(0);
            Path dir = EXPORT_DIR.resolve(tied ? "gpt2-fulgur-tied" : "gpt2-fulgur-untied");
            Random random = new Random(tied ? 1 : 2);
            long[] ids = new long[2 * 15];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = random.nextInt(config.vocabSize());
            }
            try (Gpt2Model gpt2 = Gpt2Model.newModel(config, tied ? 31 : 32);
                    NDManager m = gpt2.getManager().newSubManager()) {
                NDArray input = m.create(ids, new Shape(2, 15));
                NDArray logits = gpt2.forward(input);
                gpt2.save(dir);
                ReferenceLogits.write(dir, Map.of("input_ids", input), logits);
                Map<String, NDArray> written = Safetensors.read(dir.resolve(ReferenceLogits.FILE), m).tensors();
                assertEquals(new Shape(2, 15, 101), written.get("logits").getShape());
                float[] values = written.get("logits").toFloatArray();
                float max = 0;
                for (float v : values) {
                    max = Math.max(max, Math.abs(v));
                }
                assertTrue(max > 1, "logits should spread over several units, max |logit| " + max);
                System.out.println("exported " + dir.toAbsolutePath() + " (max |logit| " + max + ")");
            }
        }
    }
}
