package ai.fulgur.training.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.training.checkpoint.Safetensors;
import ai.fulgur.training.nn.FlashMultiHeadAttention;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The input conventions of the BERT blocks, checked against the transformers fixture: optional token types and mask
 * mean segment 0 and no padding, INT32 ids equal INT64 ones, the mask really reaches the attention, bad inputs are
 * named; and DJL's own parameter save/load keeps the model.
 */
class BertBlocksTest {
    private static final Path MLM = BertTestSupport.fixture("bert-mlm-tiny");

    private record Fixture(NDArray ids, NDArray types, NDArray mask, NDArray logits) {}

    private static Fixture fixture(NDManager m) throws IOException {
        Map<String, NDArray> t = Safetensors.read(MLM.resolve("expected.safetensors"), m).tensors();
        return new Fixture(t.get("input_ids"), t.get("token_type_ids"), t.get("attention_mask"), t.get("logits"));
    }

    @Test
    void fulgurTakesTheFlashPathAndTheMaskMatters() throws IOException {
        try (NDManager m = BertTestSupport.fulgurManager()) {
            BertForMaskedLM model = BertCheckpoint.loadMaskedLM(MLM, m);
            assertInstanceOf(FlashMultiHeadAttention.class,
                    model.getBert().getEncoder().getLayers().get(0).getAttention());
            assertTrue(!model.getBert().getEncoder().getLayers().get(0).getAttention().isCausal(), "not causal");
            Fixture f = fixture(m);
            NDArray masked = BertTestSupport.infer(model, m, new NDList(f.ids(), f.types(), f.mask()));
            assertInstanceOf(FulgurNDArray.class, masked);
            // without the mask the padded row's tokens also attend to the 6 padding keys: its logits move
            double[] unmasked = BertTestSupport.values(BertTestSupport.infer(model, m,
                    new NDList(f.ids(), f.types())));
            double[] expected = BertTestSupport.values(f.logits());
            double rowTwo = 0;
            for (int i = 17 * 311; i < 17 * 311 + 11 * 311; i++) {
                rowTwo = Math.max(rowTwo, Math.abs(unmasked[i] - expected[i]));
            }
            assertTrue(rowTwo > 1e-3, "dropping the mask should change the padded row's logits, max change "
                    + rowTwo);
        }
    }

    @Test
    void absentTokenTypesAndMaskMeanSegmentZeroAndNoPadding() throws IOException {
        for (String engine : new String[] {"Fulgur", "PyTorch"}) {
            try (NDManager m = engine.equals("Fulgur") ? BertTestSupport.fulgurManager()
                    : BertTestSupport.torchManager()) {
                BertForMaskedLM model = BertCheckpoint.loadMaskedLM(MLM, m);
                NDArray ids = fixture(m).ids();
                NDArray zeros = m.zeros(ids.getShape(), DataType.INT64);
                NDArray ones = m.ones(ids.getShape(), DataType.INT64);
                double[] full = BertTestSupport.values(BertTestSupport.infer(model, m, new NDList(ids, zeros, ones)));
                double[] idsOnly = BertTestSupport.values(BertTestSupport.infer(model, m, new NDList(ids)));
                double[] noMask = BertTestSupport.values(BertTestSupport.infer(model, m, new NDList(ids, zeros)));
                double[] int32 = BertTestSupport.values(BertTestSupport.infer(model, m,
                        new NDList(ids.toType(DataType.INT32, false), zeros.toType(DataType.INT32, false),
                                ones.toType(DataType.INT32, false))));
                for (int i = 0; i < full.length; i++) {
                    assertEquals(full[i], idsOnly[i], 1e-6, engine + ": ids only vs explicit zeros and ones");
                    assertEquals(full[i], noMask[i], 1e-6, engine + ": no mask vs a mask of ones");
                    assertEquals(full[i], int32[i], 1e-6, engine + ": INT32 vs INT64 inputs");
                }
            }
        }
    }

    @Test
    void badInputsAreNamed() throws IOException {
        try (NDManager m = BertTestSupport.fulgurManager()) {
            BertForMaskedLM model = BertCheckpoint.loadMaskedLM(MLM, m);
            NDArray ids = m.create(new long[] {5, 6, 7, 8}, new Shape(1, 4));
            NDArray types = m.zeros(new Shape(1, 4), DataType.INT64);
            NDArray leftPadded = m.create(new long[] {0, 1, 1, 1}, new Shape(1, 4));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> BertTestSupport.infer(model, m, new NDList(ids, types, leftPadded)));
            assertTrue(e.getMessage().contains("not right padding"), e.getMessage());
            NDArray tooLong = m.zeros(new Shape(1, 65), DataType.INT64);
            e = assertThrows(IllegalArgumentException.class,
                    () -> BertTestSupport.infer(model, m, new NDList(tooLong)));
            assertTrue(e.getMessage().contains("T <= max_position_embeddings 64, got (1, 65)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> BertTestSupport.infer(model, m,
                    new NDList(ids.toType(DataType.FLOAT32, false))));
            assertTrue(e.getMessage().contains("input_ids must be INT32 or INT64, got float32"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> BertTestSupport.infer(model, m,
                    new NDList(ids, m.zeros(new Shape(1, 3), DataType.INT64))));
            assertTrue(e.getMessage().contains("token_type_ids must have the shape of input_ids (1, 4), got (1, 3)"),
                    e.getMessage());
            IllegalStateException s = assertThrows(IllegalStateException.class,
                    () -> BertCheckpoint.save(Path.of("unused"), new BertForMaskedLM(BertConfig.tiny())));
            assertTrue(s.getMessage().contains("not initialised"), s.getMessage());
        }
    }

    /** DJL's saveParameters/loadParameters (what Model.save uses) round-trips a BERT, lazy attention children too. */
    @Test
    void djlParameterFilesRoundTrip() throws Exception {
        try (NDManager m = BertTestSupport.fulgurManager()) {
            BertForMaskedLM model = BertCheckpoint.loadMaskedLM(MLM, m);
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            model.saveParameters(new DataOutputStream(bytes));
            Block fresh = new BertForMaskedLM(BertConfig.read(MLM));
            fresh.loadParameters(m, new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())));
            Fixture f = fixture(m);
            NDList in = new NDList(f.ids(), f.types(), f.mask());
            double[] a = BertTestSupport.values(BertTestSupport.infer(model, m, in));
            double[] b = BertTestSupport.values(BertTestSupport.infer(fresh, m, in));
            assertTrue(java.util.Arrays.equals(a, b), "same logits after DJL save/load");
        }
    }
}
