package ai.fulgur.training.finetune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.fulgur.datasets.text.DataFileException;
import ai.fulgur.training.bert.BertCheckpoint;
import ai.fulgur.training.checkpoint.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fine-tuning the masked-LM checkpoint that transformers made (tests/resources/hf/bert-mlm-tiny) into a classifier:
 * the new head is reported, frozen layers stay put, and a separable task is learned (held-out accuracy).
 */
class BertClassifierFinetuningTest {
    private static final String[] SPECIALS = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    private static final String[] POSITIVE = {"good", "great", "fine", "happy", "bright", "warm", "kind", "nice"};
    private static final String[] NEGATIVE = {"bad", "awful", "sad", "dark", "cold", "cruel", "grim", "poor"};
    private static final String[] NEUTRAL = {"the", "a", "day", "man", "house", "tree", "road", "song", "cat", "it"};

    @TempDir
    Path dir;

    /** The fixture checkpoint with a 311-token WordPiece vocabulary holding the task's words. */
    private Path checkpoint() throws IOException {
        Path ckpt = dir.resolve("mlm");
        Files.createDirectories(ckpt);
        Path fixture = Path.of("src/test/resources/hf/bert-mlm-tiny");
        for (String f : new String[] {"config.json", "model.safetensors"}) {
            Files.copy(fixture.resolve(f), ckpt.resolve(f));
        }
        List<String> vocab = new ArrayList<>(List.of(SPECIALS));
        vocab.addAll(List.of(POSITIVE));
        vocab.addAll(List.of(NEGATIVE));
        vocab.addAll(List.of(NEUTRAL));
        while (vocab.size() < 311) {
            vocab.add("filler" + vocab.size());
        }
        Files.write(ckpt.resolve("vocab.txt"), vocab);
        return ckpt;
    }

    /** Sentences of neutral words with one sentiment word; the label is the sentiment. */
    private Path data(int n) throws IOException {
        Random random = new Random(3);
        StringBuilder csv = new StringBuilder("text,label\n");
        for (int i = 0; i < n; i++) {
            boolean positive = random.nextBoolean();
            List<String> words = new ArrayList<>();
            for (int w = 0; w < 5; w++) {
                words.add(NEUTRAL[random.nextInt(NEUTRAL.length)]);
            }
            String[] pool = positive ? POSITIVE : NEGATIVE;
            words.add(random.nextInt(words.size() + 1), pool[random.nextInt(pool.length)]);
            csv.append('"').append(String.join(" ", words)).append("\",").append(positive ? "pos" : "neg")
                    .append('\n');
        }
        Path file = dir.resolve("reviews.csv");
        Files.writeString(file, csv);
        return file;
    }

    @Test
    void aMaskedLmCheckpointBecomesAClassifierThatLearnsTheTask() throws Exception {
        Path ckpt = checkpoint();
        Path out = dir.resolve("classifier");
        BertClassifierFinetuning.Config c = new BertClassifierFinetuning.Config(data(400), null, null, 0.2, ckpt,
                null, 16, 120, 16, 2e-3f, 0.1f, 1, 5, out);
        BertClassifierFinetuning.Result r = BertClassifierFinetuning.run(c, null, Device.cpu());
        assertEquals(List.of("neg", "pos"), r.labels());
        assertEquals(80, r.heldOutExamples());
        assertTrue(r.newlyInitialized().containsAll(List.of("classifier.weight", "bert.pooler.dense.weight")),
                r.newlyInitialized().toString());
        assertTrue(r.heldOutAccuracy() >= 0.9, "held-out accuracy " + r.heldOutAccuracy());
        // frozen: the embeddings and layer 0 are the checkpoint's, bit for bit; layer 1 moved
        try (var m = ai.djl.ndarray.NDManager.newBaseManager("Fulgur")) {
            var before = Safetensors.read(ckpt.resolve(BertCheckpoint.WEIGHTS_FILE), m).tensors();
            var after = Safetensors.read(out.resolve(BertCheckpoint.WEIGHTS_FILE), m).tensors();
            for (String name : new String[] {"bert.embeddings.word_embeddings.weight",
                    "bert.encoder.layer.0.attention.self.query.weight"}) {
                assertEquals(before.get(name).toByteBuffer(), after.get(name).toByteBuffer(), name);
            }
            String moved = "bert.encoder.layer.1.attention.self.query.weight";
            assertTrue(!before.get(moved).toByteBuffer().equals(after.get(moved).toByteBuffer()), moved);
        }
        String config = Files.readString(out.resolve("config.json"));
        assertTrue(config.contains("\"id2label\"") && config.contains("\"pos\"")
                && config.contains("BertForSequenceClassification"), config);
    }

    @Test
    void aMissingLabelColumnNamesTheColumnsFound() throws Exception {
        Path file = dir.resolve("bad.csv");
        Files.writeString(file, "text,polarity\nhello,1\n");
        var e = assertThrows(DataFileException.class, () -> BertClassifierFinetuning.run(
                new BertClassifierFinetuning.Config(file, null, null, 0.2, null, "tiny", 16, 1, 1, 1e-3f, 0f, -1, 1,
                        null), null, Device.cpu()));
        assertTrue(e.getMessage().contains("label") && e.getMessage().contains("polarity"), e.getMessage());
    }
}
