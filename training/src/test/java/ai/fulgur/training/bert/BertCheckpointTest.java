package ai.fulgur.training.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fulgur.training.checkpoint.CheckpointException;
import ai.fulgur.training.checkpoint.Safetensors;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Save/load of Hugging Face BERT directories against the transformers fixtures: the saved tensor set equals the
 * fixture's name for name, shape for shape and bit for bit; bad directories fail naming the file and tensor; a
 * classifier starts from a masked-LM checkpoint only when asked, and reports what it initialised.
 */
class BertCheckpointTest {
    @TempDir
    Path dir;

    private static final Path MLM = BertTestSupport.fixture("bert-mlm-tiny");
    private static final Path CLS = BertTestSupport.fixture("bert-cls-tiny");

    @Test
    void savedMaskedLmEqualsTheTransformersFiles() throws IOException {
        try (NDManager m = BertTestSupport.fulgurManager()) {
            BertForMaskedLM model = BertCheckpoint.loadMaskedLM(MLM, m);
            BertCheckpoint.save(dir, model);
            assertSameTensors(MLM, dir, m);
            assertEquals(BertConfig.read(MLM), BertConfig.read(dir));
            JsonObject config = JsonParser.parseString(Files.readString(dir.resolve("config.json")))
                    .getAsJsonObject();
            assertEquals("BertForMaskedLM", config.getAsJsonArray("architectures").get(0).getAsString());
            assertEquals(Map.of("format", "pt"),
                    Safetensors.read(dir.resolve("model.safetensors"), m).metadata());
            // and the saved directory loads back to a model that gives the same logits as the first
            NDList inputs = fixtureInputs(MLM, m);
            BertForMaskedLM again = BertCheckpoint.loadMaskedLM(dir, m);
            assertEquals(0, maxDiff(BertTestSupport.infer(model, m, inputs),
                    BertTestSupport.infer(again, m, inputs)));
        }
    }

    @Test
    void savedClassifierEqualsTheTransformersFiles() throws IOException {
        try (NDManager m = BertTestSupport.fulgurManager()) {
            BertForSequenceClassification model = BertCheckpoint.loadSequenceClassification(CLS, m);
            BertCheckpoint.save(dir, model);
            assertSameTensors(CLS, dir, m);
            assertEquals(BertConfig.read(CLS), BertConfig.read(dir));
            NDList inputs = fixtureInputs(CLS, m);
            BertForSequenceClassification again = BertCheckpoint.loadSequenceClassification(dir, m);
            assertEquals(0, maxDiff(BertTestSupport.infer(model, m, inputs),
                    BertTestSupport.infer(again, m, inputs)));
        }
    }

    /** The PyTorch engine's arrays go through the same mapping (slices, concatenation, copies). */
    @Test
    void saveAndLoadOnPyTorchToo() throws IOException {
        try (NDManager m = BertTestSupport.torchManager()) {
            BertCheckpoint.save(dir, BertCheckpoint.loadMaskedLM(MLM, m));
            assertSameTensors(MLM, dir, m);
        }
    }

    @Test
    void classifierFromMaskedLmCheckpointNeedsTheOptionAndReportsTheNewHead() throws IOException {
        try (NDManager m = BertTestSupport.fulgurManager()) {
            BertForSequenceClassification cls = new BertForSequenceClassification(BertConfig.read(MLM)
                    .withNumLabels(4));
            BertCheckpoint.initialize(cls, m, DataType.FLOAT32);
            CheckpointException e = assertThrows(CheckpointException.class, () -> BertCheckpoint.load(MLM, cls));
            assertContains(e, "missing tensors [bert.pooler.dense.weight, bert.pooler.dense.bias, "
                    + "classifier.weight, classifier.bias]");
            assertContains(e, "Option.INITIALIZE_NEW_HEAD");
            assertContains(e, "unexpected tensors [cls.predictions.bias");

            BertCheckpoint.LoadReport report = BertCheckpoint.load(MLM, cls,
                    BertCheckpoint.Option.INITIALIZE_NEW_HEAD);
            assertEquals(List.of("bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight",
                    "classifier.bias"), report.newlyInitialized());
            assertEquals(List.of("cls.predictions.bias", "cls.predictions.transform.LayerNorm.bias",
                    "cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.dense.bias",
                    "cls.predictions.transform.dense.weight"), report.unused().stream().sorted().toList());
            assertEquals(5 + 2 * 16, report.loaded().size());

            // the backbone is the masked-LM's: same sequence output on the fixture inputs
            BertForMaskedLM mlm = BertCheckpoint.loadMaskedLM(MLM, m);
            NDList inputs = fixtureInputs(MLM, m);
            NDArray a = mlm.getBert().forward(new ai.djl.training.ParameterStore(m, false), inputs, false).head();
            NDArray b = cls.getBert().forward(new ai.djl.training.ParameterStore(m, false), inputs, false).head();
            assertEquals(0, maxDiff(a, b));
            // the new head as transformers initialises it: weights N(0, 0.02²), biases 0
            double[] w = BertTestSupport.values(cls.getClassifier().getParameters().get("weight").getArray());
            double std = Math.sqrt(Arrays.stream(w).map(x -> x * x).sum() / w.length);
            assertTrue(std > 0.015 && std < 0.025, "classifier weight std " + std + ", expected about 0.02");
            double[] pw = BertTestSupport.values(cls.getBert().getPooler().getParameters().get("weight").getArray());
            double pstd = Math.sqrt(Arrays.stream(pw).map(x -> x * x).sum() / pw.length);
            assertTrue(pstd > 0.018 && pstd < 0.022, "pooler weight std " + pstd + ", expected about 0.02");
            assertTrue(Arrays.stream(BertTestSupport.values(cls.getClassifier().getParameters().get("bias")
                    .getArray())).allMatch(x -> x == 0), "classifier bias starts at 0");
            assertEquals(new Shape(1, 4), BertTestSupport.infer(cls, m, new NDList(m.create(new long[] {2},
                    new Shape(1, 1)))).getShape());
        }
    }

    @Test
    void missingFilesAreNamed() throws IOException {
        try (NDManager m = BertTestSupport.fulgurManager()) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> BertCheckpoint.loadMaskedLM(dir, m));
            assertContains(e, dir.resolve("config.json") + " not found");
            Files.copy(MLM.resolve("config.json"), dir.resolve("config.json"));
            e = assertThrows(CheckpointException.class, () -> BertCheckpoint.loadMaskedLM(dir, m));
            assertContains(e, dir.resolve("model.safetensors") + " not found");
        }
    }

    @Test
    void truncatedWeightsAreReportedAsCorrupt() throws IOException {
        try (NDManager m = BertTestSupport.fulgurManager()) {
            Files.copy(MLM.resolve("config.json"), dir.resolve("config.json"));
            byte[] whole = Files.readAllBytes(MLM.resolve("model.safetensors"));
            Files.write(dir.resolve("model.safetensors"), Arrays.copyOf(whole, whole.length - 100));
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> BertCheckpoint.loadMaskedLM(dir, m));
            assertContains(e, "model.safetensors is not a readable safetensors file");
        }
    }

    @Test
    void missingUnexpectedAndMisshapenTensorsAreNamed() throws IOException {
        try (NDManager m = BertTestSupport.fulgurManager()) {
            BertForMaskedLM model = BertCheckpoint.loadMaskedLM(MLM, m);
            Files.copy(MLM.resolve("config.json"), dir.resolve("config.json"));

            Map<String, NDArray> tensors = fixtureTensors(m);
            tensors.remove("bert.encoder.layer.1.attention.self.key.bias");
            writeWeights(tensors);
            CheckpointException e = assertThrows(CheckpointException.class, () -> BertCheckpoint.load(dir, model));
            assertContains(e, "missing tensors [bert.encoder.layer.1.attention.self.key.bias]");
            // a missing backbone tensor is an error even when a new head may be initialised
            assertThrows(CheckpointException.class,
                    () -> BertCheckpoint.load(dir, model, BertCheckpoint.Option.INITIALIZE_NEW_HEAD));

            tensors = fixtureTensors(m);
            tensors.put("bert.encoder.layer.0.adapter.weight", m.zeros(new Shape(2, 2)));
            writeWeights(tensors);
            e = assertThrows(CheckpointException.class, () -> BertCheckpoint.load(dir, model));
            assertContains(e, "unexpected tensors [bert.encoder.layer.0.adapter.weight]");
            BertCheckpoint.LoadReport report = BertCheckpoint.load(dir, model, BertCheckpoint.Option.IGNORE_UNUSED);
            assertEquals(List.of("bert.encoder.layer.0.adapter.weight"), report.unused());

            // tied and buffer tensors that transformers itself ignores are accepted
            tensors = fixtureTensors(m);
            tensors.put("cls.predictions.decoder.weight", tensors.get("bert.embeddings.word_embeddings.weight"));
            tensors.put("bert.embeddings.position_ids", m.arange(64L).reshape(1, 64));
            writeWeights(tensors);
            report = BertCheckpoint.load(dir, model);
            assertEquals(List.of("bert.embeddings.position_ids", "cls.predictions.decoder.weight"),
                    report.unused().stream().sorted().toList());

            tensors = fixtureTensors(m);
            tensors.put("bert.encoder.layer.0.attention.self.value.weight", m.zeros(new Shape(48, 47)));
            writeWeights(tensors);
            double[] before = BertTestSupport.values(model.getBert().getEmbeddings().getWordEmbeddings().getArray());
            e = assertThrows(CheckpointException.class, () -> BertCheckpoint.load(dir, model));
            assertContains(e, "tensor 'bert.encoder.layer.0.attention.self.value.weight' has shape (48, 47), "
                    + "expected (48, 48)");
            // nothing was copied before the shapes were checked
            double[] after = BertTestSupport.values(model.getBert().getEmbeddings().getWordEmbeddings().getArray());
            assertTrue(Arrays.equals(before, after), "a failed load left the model unchanged");
        }
    }

    @Test
    void configOfAnotherSizeIsRejectedNamingTheField() throws IOException {
        try (NDManager m = BertTestSupport.fulgurManager()) {
            BertForMaskedLM model = new BertForMaskedLM(BertConfig.read(MLM).withVocabSize(300));
            BertCheckpoint.initialize(model, m, DataType.FLOAT32);
            CheckpointException e = assertThrows(CheckpointException.class, () -> BertCheckpoint.load(MLM, model));
            assertContains(e, "config.json has vocab_size 311 but the model was built with 300");
        }
    }

    // -----------------------------------------------------------------------------------------------------------------

    private Map<String, NDArray> fixtureTensors(NDManager m) throws IOException {
        return new LinkedHashMap<>(Safetensors.read(MLM.resolve("model.safetensors"), m).tensors());
    }

    private void writeWeights(Map<String, NDArray> tensors) throws IOException {
        Safetensors.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
    }

    /** Same names, dtypes, shapes and bytes in both model.safetensors files. */
    private static void assertSameTensors(Path expectedDir, Path actualDir, NDManager m) throws IOException {
        Map<String, NDArray> want = Safetensors.read(expectedDir.resolve("model.safetensors"), m).tensors();
        Map<String, NDArray> got = Safetensors.read(actualDir.resolve("model.safetensors"), m).tensors();
        assertEquals(want.keySet().stream().sorted().toList(), got.keySet().stream().sorted().toList());
        for (String name : want.keySet()) {
            assertEquals(want.get(name).getDataType(), got.get(name).getDataType(), name);
            assertEquals(want.get(name).getShape(), got.get(name).getShape(), name);
            assertEquals(want.get(name).toByteBuffer(), got.get(name).toByteBuffer(), name + " values");
        }
    }

    private static NDList fixtureInputs(Path fixture, NDManager m) throws IOException {
        Map<String, NDArray> t = Safetensors.read(fixture.resolve("expected.safetensors"), m).tensors();
        return new NDList(t.get("input_ids"), t.get("token_type_ids"), t.get("attention_mask"));
    }

    private static double maxDiff(NDArray a, NDArray b) {
        assertEquals(a.getShape(), b.getShape());
        double[] x = BertTestSupport.values(a);
        double[] y = BertTestSupport.values(b);
        double max = 0;
        for (int i = 0; i < x.length; i++) {
            max = Math.max(max, Math.abs(x[i] - y[i]));
        }
        return max;
    }

    private static void assertContains(Exception e, String expected) {
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }
}
