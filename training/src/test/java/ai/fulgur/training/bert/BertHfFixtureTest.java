package ai.fulgur.training.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.fulgur.training.checkpoint.Safetensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Hugging Face compatibility: tiny random BertForMaskedLM and BertForSequenceClassification made by transformers
 * 5.17.0 (tools/hf-fixtures/make_fixtures.py), loaded from their directories, reproduce transformers' float32 logits
 * on Fulgur (FlashAttention with per-sequence key lengths) and on DJL's PyTorch engine (composed attention). The
 * inputs are (2, 17) with the second row right-padded after 11 tokens and two segments.
 */
class BertHfFixtureTest {
    /** The tolerance for float32 logits. */
    private static final double TOL = 1e-4;

    private record Expected(NDArray ids, NDArray types, NDArray mask, NDArray logits) {
        NDList inputs() {
            return new NDList(ids, types, mask);
        }
    }

    private static Expected expected(Path dir, NDManager m) throws IOException {
        Map<String, NDArray> t = Safetensors.read(dir.resolve("expected.safetensors"), m).tensors();
        return new Expected(t.get("input_ids"), t.get("token_type_ids"), t.get("attention_mask"), t.get("logits"));
    }

    @Test
    void maskedLmLogitsMatchTransformersOnFulgur() throws IOException {
        try (NDManager m = BertTestSupport.fulgurManager()) {
            maskedLm("Fulgur", m);
        }
    }

    @Test
    void maskedLmLogitsMatchTransformersOnPyTorch() throws IOException {
        try (NDManager m = BertTestSupport.torchManager()) {
            maskedLm("PyTorch", m);
        }
    }

    @Test
    void classifierLogitsMatchTransformersOnFulgur() throws IOException {
        try (NDManager m = BertTestSupport.fulgurManager()) {
            classifier("Fulgur", m);
        }
    }

    @Test
    void classifierLogitsMatchTransformersOnPyTorch() throws IOException {
        try (NDManager m = BertTestSupport.torchManager()) {
            classifier("PyTorch", m);
        }
    }

    private static void maskedLm(String engine, NDManager m) throws IOException {
        Path dir = BertTestSupport.fixture("bert-mlm-tiny");
        BertForMaskedLM model = BertCheckpoint.loadMaskedLM(dir, m);
        Expected e = expected(dir, m);
        NDArray logits = BertTestSupport.infer(model, m, e.inputs());
        assertEquals(e.logits().getShape(), logits.getShape());
        double[] want = BertTestSupport.values(e.logits());
        double[] got = BertTestSupport.values(logits);
        double[] mask = BertTestSupport.values(e.mask());
        int v = Math.toIntExact(logits.getShape().get(2));
        double maxValid = 0;
        double maxPadding = 0;
        for (int i = 0; i < want.length; i++) {
            double diff = Math.abs(want[i] - got[i]);
            assertTrue(Double.isFinite(got[i]), engine + " MLM logit " + i + " is " + got[i]);
            if (mask[i / v] == 1) {
                assertTrue(diff <= TOL, engine + " MLM logit at (" + (i / v / 17) + ", " + (i / v % 17) + ", "
                        + (i % v) + "): expected " + want[i] + ", got " + got[i] + ", |diff| " + diff + " > " + TOL);
                maxValid = Math.max(maxValid, diff);
            } else {
                maxPadding = Math.max(maxPadding, diff);
            }
        }
        System.out.printf("%s BertForMaskedLM vs transformers: max |diff| %.3e at tokens, %.3e at padding%n",
                engine, maxValid, maxPadding);
        // padded queries attend to the valid keys in both implementations, so they agree too
        assertTrue(maxPadding <= TOL, engine + " MLM logits at padding differ by " + maxPadding);
    }

    private static void classifier(String engine, NDManager m) throws IOException {
        Path dir = BertTestSupport.fixture("bert-cls-tiny");
        Block model = BertCheckpoint.loadSequenceClassification(dir, m);
        Expected e = expected(dir, m);
        NDArray logits = BertTestSupport.infer(model, m, e.inputs());
        assertEquals(e.logits().getShape(), logits.getShape());
        double[] want = BertTestSupport.values(e.logits());
        double[] got = BertTestSupport.values(logits);
        double max = 0;
        for (int i = 0; i < want.length; i++) {
            double diff = Math.abs(want[i] - got[i]);
            assertTrue(diff <= TOL, engine + " classifier logit (" + i / 3 + ", " + i % 3 + "): expected " + want[i]
                    + ", got " + got[i] + ", |diff| " + diff + " > " + TOL);
            max = Math.max(max, diff);
        }
        System.out.printf("%s BertForSequenceClassification vs transformers: max |diff| %.3e%n", engine, max);
    }
}
