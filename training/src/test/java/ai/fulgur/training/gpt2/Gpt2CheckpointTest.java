package ai.fulgur.training.gpt2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fulgur.training.checkpoint.CheckpointException;
import ai.fulgur.training.checkpoint.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Saving and loading GPT-2 as a Hugging Face directory: the written file has exactly the fixture's tensor names,
 * shapes and dtypes (transformers' own save of the same architecture), values survive save → load bit for bit, and
 * every kind of bad checkpoint fails with a message naming what is wrong.
 */
class Gpt2CheckpointTest {
    @TempDir
    Path dir;

    private static Gpt2Config small(boolean tied) {
        return Gpt2Config.builder().nLayer(2).nHead(2).nEmbd(16).nPositions(12).vocabSize(37)
                .tieWordEmbeddings(tied).build().withDropout(0);
    }

    /** Loading transformers' file and saving it again gives the same names, shapes, dtypes and values. */
    @Test
    void savedFileMatchesTransformersLayoutExactly() throws IOException {
        Path out = dir.resolve("resaved");
        try (Gpt2Model gpt2 = Gpt2Model.load(Gpt2TestSupport.fixtureDir(), Device.cpu(), "Fulgur")) {
            gpt2.save(out);
        }
        try (NDManager m = NDManager.newBaseManager("Fulgur")) {
            Safetensors.Contents theirs = Safetensors.read(Gpt2TestSupport.fixtureDir().resolve("model.safetensors"),
                    m);
            Safetensors.Contents ours = Safetensors.read(out.resolve("model.safetensors"), m);
            assertEquals(new TreeMap<>(shapes(theirs.tensors())), new TreeMap<>(shapes(ours.tensors())));
            for (Map.Entry<String, NDArray> e : theirs.tensors().entrySet()) {
                NDArray mine = ours.tensors().get(e.getKey());
                assertEquals(e.getValue().getDataType(), mine.getDataType(), e.getKey());
                assertArrayEquals(e.getValue().toFloatArray(), mine.toFloatArray(), e.getKey());
            }
            assertEquals("pt", ours.metadata().get("format"), "transformers requires format=pt metadata");
        }
        assertEquals(Gpt2Config.read(Gpt2TestSupport.fixtureDir().resolve("config.json")),
                Gpt2Config.read(out.resolve("config.json")));
    }

    @Test
    void tensorShapesListTheFixtureNames() throws IOException {
        Gpt2Config config = Gpt2Config.read(Gpt2TestSupport.fixtureDir().resolve("config.json"));
        try (NDManager m = NDManager.newBaseManager("Fulgur")) {
            Map<String, NDArray> theirs = Safetensors.read(Gpt2TestSupport.fixtureDir().resolve("model.safetensors"),
                    m).tensors();
            assertEquals(new TreeMap<>(shapes(theirs)), new TreeMap<>(Gpt2Checkpoint.tensorShapes(config)));
        }
    }

    @Test
    void saveThenLoadKeepsEveryParameterAndTheLogits() throws IOException {
        for (boolean tied : new boolean[] {true, false}) {
            Path out = dir.resolve("tied-" + tied);
            try (Gpt2Model a = Gpt2Model.newModel(small(tied), 11);
                    NDManager m = a.getManager().newSubManager()) {
                a.save(out);
                try (Gpt2Model b = Gpt2Model.load(out, Device.cpu(), "Fulgur")) {
                    assertEquals(a.getConfig(), b.getConfig());
                    ai.djl.nn.ParameterList pa = a.getBlock().getParameters();
                    assertEquals(a.getBlock().getParameters().keys(), b.getBlock().getParameters().keys());
                    for (Pair<String, Parameter> p : pa) {
                        assertArrayEquals(p.getValue().getArray().toFloatArray(),
                                b.getBlock().getParameters().get(p.getKey()).getArray().toFloatArray(), p.getKey());
                    }
                    NDArray tokens = m.create(new long[] {3, 1, 4, 1, 5, 9, 2, 6, 5, 3}, new Shape(2, 5));
                    assertArrayEquals(a.forward(tokens).toFloatArray(), b.forward(tokens).toFloatArray());
                }
                try (NDManager f = NDManager.newBaseManager("Fulgur")) {
                    boolean hasHead = Safetensors.read(out.resolve("model.safetensors"), f).tensors()
                            .containsKey("lm_head.weight");
                    assertEquals(!tied, hasHead, "lm_head.weight is written only for an untied head");
                }
            }
        }
    }

    /** A model initialised by Fulgur, saved, then loaded on PyTorch computes the same logits as on Fulgur. */
    @Test
    void savedModelLoadsOnPyTorchEngine() throws IOException {
        Path out = dir.resolve("portable");
        try (Gpt2Model a = Gpt2Model.newModel(small(true), 5); NDManager m = a.getManager().newSubManager()) {
            a.save(out);
            float[] fulgur = a.forward(m.create(new long[] {7, 8, 9, 10}, new Shape(1, 4))).toFloatArray();
            try (Gpt2Model b = Gpt2Model.load(out, Device.cpu(), "PyTorch");
                    NDManager pm = b.getManager().newSubManager()) {
                float[] torch = b.forward(pm.create(new long[] {7, 8, 9, 10}, new Shape(1, 4))).toFloatArray();
                double diff = Gpt2TestSupport.maxAbsDiff("logits", torch, fulgur);
                assertTrue(diff < 1e-5, "Fulgur vs PyTorch logits differ by " + diff);
            }
        }
    }

    /** Saving over a checkpoint of another size leaves the new model, config and weights together. */
    @Test
    void savingOverAnotherCheckpointReplacesBothFiles() throws IOException {
        Path out = dir.resolve("reused");
        try (Gpt2Model a = Gpt2Model.newModel(small(true), 1)) {
            a.save(out);
        }
        Gpt2Config bigger = small(false).toBuilder().vocabSize(40).nLayer(3).build();
        try (Gpt2Model b = Gpt2Model.newModel(bigger, 2)) {
            b.save(out);
            try (Gpt2Model c = Gpt2Model.load(out, Device.cpu(), "Fulgur")) {
                assertEquals(bigger, c.getConfig());
                assertArrayEquals(b.getBlock().getLmHead().getParameters().get("weight").getArray().toFloatArray(),
                        c.getBlock().getLmHead().getParameters().get("weight").getArray().toFloatArray());
            }
        }
    }

    @Test
    void missingDirectoryAndFilesAreNamed() throws IOException {
        Path none = dir.resolve("nothing-here");
        assertMessage(() -> Gpt2Model.load(none, Device.cpu(), "Fulgur"), "no GPT-2 checkpoint directory at",
                none.toString());
        Path onlyConfig = Files.createDirectories(dir.resolve("only-config"));
        small(true).write(onlyConfig.resolve("config.json"));
        assertMessage(() -> Gpt2Model.load(onlyConfig, Device.cpu(), "Fulgur"), "model.safetensors is missing");
        Path onlyWeights = dir.resolve("only-weights");
        try (Gpt2Model a = Gpt2Model.newModel(small(true), 1)) {
            a.save(onlyWeights);
        }
        Files.delete(onlyWeights.resolve("config.json"));
        assertMessage(() -> Gpt2Model.load(onlyWeights, Device.cpu(), "Fulgur"), "config.json is missing");
    }

    @Test
    void corruptFileIsNamed() throws IOException {
        Path out = dir.resolve("corrupt");
        try (Gpt2Model a = Gpt2Model.newModel(small(true), 1)) {
            a.save(out);
        }
        Path weights = out.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(weights);
        Files.write(weights, java.util.Arrays.copyOf(bytes, bytes.length - 100));
        assertMessage(() -> Gpt2Model.load(out, Device.cpu(), "Fulgur"), weights.toString(), "truncated");
    }

    @Test
    void missingExtraAndMisshapenTensorsAreNamed() throws IOException {
        Path out = dir.resolve("edited");
        try (Gpt2Model a = Gpt2Model.newModel(small(true), 1)) {
            a.save(out);
        }
        Path weights = out.resolve("model.safetensors");
        try (NDManager m = NDManager.newBaseManager("Fulgur")) {
            Map<String, NDArray> good = new LinkedHashMap<>(Safetensors.read(weights, m).tensors());

            Map<String, NDArray> edited = new LinkedHashMap<>(good);
            edited.remove("transformer.h.1.mlp.c_fc.bias");
            Safetensors.write(weights, edited, Map.of("format", "pt"));
            assertMessage(() -> Gpt2Model.load(out, Device.cpu(), "Fulgur"), "missing [transformer.h.1.mlp.c_fc.bias]");

            edited = new LinkedHashMap<>(good);
            edited.put("transformer.h.2.ln_1.weight", m.ones(new Shape(16)));
            Safetensors.write(weights, edited, Map.of("format", "pt"));
            assertMessage(() -> Gpt2Model.load(out, Device.cpu(), "Fulgur"),
                    "unexpected [transformer.h.2.ln_1.weight]");

            edited = new LinkedHashMap<>(good);
            edited.put("transformer.h.0.attn.c_attn.weight", m.zeros(new Shape(48, 16))); // (out, in): not Conv1D
            Safetensors.write(weights, edited, Map.of("format", "pt"));
            assertMessage(() -> Gpt2Model.load(out, Device.cpu(), "Fulgur"),
                    "tensor 'transformer.h.0.attn.c_attn.weight' has shape (48, 16)", "needs (16, 48)");

            // weights of another size than config.json says
            Safetensors.write(weights, good, Map.of("format", "pt"));
            small(true).toBuilder().vocabSize(40).build().write(out.resolve("config.json"));
            assertMessage(() -> Gpt2Model.load(out, Device.cpu(), "Fulgur"),
                    "tensor 'transformer.wte.weight' has shape (37, 16)", "needs (40, 16)", "vocab_size 40");
        }
    }

    /** F16 weights (as transformers saves a half-precision model) load as their exact float32 values. */
    @Test
    void loadsHalfPrecisionWeights() throws IOException {
        Path out = dir.resolve("half");
        try (Gpt2Model a = Gpt2Model.newModel(small(true), 8); NDManager m = a.getManager().newSubManager()) {
            a.save(out);
            Path weights = out.resolve("model.safetensors");
            Map<String, NDArray> half = new LinkedHashMap<>();
            Safetensors.read(weights, m).tensors().forEach((k, v) -> half.put(k,
                    v.toType(ai.djl.ndarray.types.DataType.FLOAT16, false)));
            Safetensors.write(weights, half, Map.of("format", "pt"));
            float[] wte = a.getBlock().getTokenEmbedding().getArray().toFloatArray();
            try (Gpt2Model b = Gpt2Model.load(out, Device.cpu(), "Fulgur")) {
                float[] loaded = b.getBlock().getTokenEmbedding().getArray().toFloatArray();
                for (int i = 0; i < wte.length; i++) {
                    assertEquals(Float.float16ToFloat(Float.floatToFloat16(wte[i])), loaded[i], "wte[" + i + "]");
                }
            }
        }
    }

    /** OpenAI's Hub layout: no "transformer." prefix and attention mask buffers, which are skipped. */
    @Test
    void loadsTheOlderHubLayout() throws IOException {
        Path out = dir.resolve("old-layout");
        try (Gpt2Model a = Gpt2Model.newModel(small(true), 4); NDManager m = a.getManager().newSubManager()) {
            a.save(out);
            Path weights = out.resolve("model.safetensors");
            Map<String, NDArray> old = new LinkedHashMap<>();
            Safetensors.read(weights, m).tensors().forEach((k, v) -> old.put(k.replaceFirst("^transformer\\.", ""), v));
            old.put("h.0.attn.bias", m.ones(new Shape(1, 1, 12, 12)));
            old.put("h.1.attn.masked_bias", m.create(-1e4f));
            Safetensors.write(weights, old, Map.of("format", "pt"));
            try (Gpt2Model b = Gpt2Model.load(out, Device.cpu(), "Fulgur")) {
                NDArray tokens = m.create(new long[] {1, 2, 3}, new Shape(1, 3));
                assertArrayEquals(a.forward(tokens).toFloatArray(), b.forward(tokens).toFloatArray());
            }
        }
    }

    private static Map<String, Shape> shapes(Map<String, NDArray> tensors) {
        Map<String, Shape> s = new LinkedHashMap<>();
        tensors.forEach((k, v) -> s.put(k, v.getShape()));
        return s;
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable call, String... parts) {
        CheckpointException e = assertThrows(CheckpointException.class, call);
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), "message '" + e.getMessage() + "' lacks '" + part + "'");
        }
        assertFalse(e.getMessage().isBlank());
    }
}
