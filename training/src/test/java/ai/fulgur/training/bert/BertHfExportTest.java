package ai.fulgur.training.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.fulgur.training.checkpoint.ReferenceLogits;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Writes Fulgur-made BERT checkpoints (masked-LM and classifier) with their logits on a padded batch to
 * {@code target/hf-export/bert-fulgur-mlm} and {@code -cls}, for {@code tools/hf-fixtures/check_fulgur_checkpoint.py}
 * to load in transformers on the GPU machine. Parameters are redrawn N(0, 0.2²) (LayerNorm scales around 1) so a
 * wrong layout would show far above float32 noise.
 */
class BertHfExportTest {

    @Test
    void exportsCheckpointsWithReferenceLogits() throws IOException {
        BertConfig config = BertConfig.tiny().withNumLabels(3);
        for (boolean classifier : new boolean[] {false, true}) {
            AbstractBlock block = classifier ? new BertForSequenceClassification(config) : new BertForMaskedLM(config);
            Path dir = Path.of("target", "hf-export", classifier ? "bert-fulgur-cls" : "bert-fulgur-mlm");
            try (Model model = Model.newInstance("bert-export", ai.djl.Device.cpu(), "Fulgur")) {
                model.setBlock(block);
                BertCheckpoint.initialize(block, model.getNDManager(), DataType.FLOAT32);
                Random random = new Random(classifier ? 7 : 8);
                for (Pair<String, Parameter> p : block.getParameters()) {
                    NDArray w = p.getValue().getArray();
                    float[] v = new float[(int) w.size()];
                    boolean scale = p.getKey().endsWith("gamma");
                    for (int i = 0; i < v.length; i++) {
                        v[i] = (float) ((scale ? 1 : 0) + 0.2 * random.nextGaussian());
                    }
                    w.set(v);
                }
                try (NDManager m = model.getNDManager().newSubManager()) {
                    int t = 12;
                    long[] ids = new long[2 * t];
                    long[] types = new long[2 * t];
                    long[] mask = new long[2 * t];
                    for (int i = 0; i < ids.length; i++) {
                        boolean padding = i >= t && i - t >= 8; // the second row has 8 tokens, then padding
                        ids[i] = padding ? 0 : 5 + random.nextInt(config.vocabSize() - 5);
                        types[i] = !padding && i % t >= 6 ? 1 : 0;
                        mask[i] = padding ? 0 : 1;
                    }
                    NDArray input = m.create(ids, new Shape(2, t));
                    NDArray typeIds = m.create(types, new Shape(2, t));
                    NDArray attention = m.create(mask, new Shape(2, t));
                    NDArray logits = block.forward(new ParameterStore(m, false), new NDList(input, typeIds,
                            attention), false).head();
                    BertCheckpoint.save(dir, block);
                    ReferenceLogits.write(dir, Map.of("input_ids", input, "token_type_ids", typeIds,
                            "attention_mask", attention), logits);
                    assertEquals(classifier ? new Shape(2, 3) : new Shape(2, t, config.vocabSize()),
                            logits.getShape());
                    System.out.println("exported " + dir.toAbsolutePath());
                }
            }
        }
    }
}
