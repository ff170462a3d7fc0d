package ai.fulgur.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The model commands as a user runs them: train gpt2 → checkpoint → generate → resume → finetune; train bert; finetune bert. */
class ModelCommandsTest {
    @TempDir
    Path dir;

    @Test
    void trainCheckpointGenerateAndResume() throws Exception {
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to "
                + "suffer\nThe slings and arrows of outrageous fortune,\n".repeat(30));
        Path ckpt = dir.resolve("ckpt");
        CliRun train = CliRun.of("train", "gpt2", "--data", corpus.toString(), "--tokenizer", "bpe:300", "--block", "32",
                "--steps", "6", "--batch", "4", "--save", ckpt.toString(), "--eval-every", "3");
        assertEquals(0, train.code(), train.out() + train.err());
        for (String f : new String[] {"config.json", "model.safetensors", "vocab.json", "merges.txt",
                "training_state.safetensors", "loss.svg"}) {
            assertTrue(Files.isRegularFile(ckpt.resolve(f)), f + " in " + ckpt);
        }
        assertTrue(train.out().contains("validation loss"), train.out());

        CliRun gen = CliRun.of("generate", "--checkpoint", ckpt.toString(), "--prompt", "To be", "--max-tokens", "5",
                "--temperature", "0");
        assertEquals(0, gen.code(), gen.out() + gen.err());
        assertTrue(gen.out().startsWith("To be"), gen.out());

        CliRun resumed = CliRun.of("train", "gpt2", "--data", corpus.toString(), "--resume", ckpt.toString(), "--block",
                "32", "--steps", "8", "--batch", "4", "--eval-every", "3");
        assertEquals(0, resumed.code(), resumed.out() + resumed.err());
        assertTrue(resumed.out().contains("resuming") && resumed.out().contains("step 6"), resumed.out());

        CliRun finetuned = CliRun.of("finetune", "gpt2", "--from", ckpt.toString(), "--data", corpus.toString(), "--block",
                "32", "--steps", "3", "--batch", "4", "--freeze", "1", "--save", dir.resolve("ft").toString());
        assertEquals(0, finetuned.code(), finetuned.out() + finetuned.err());
        assertTrue(finetuned.out().contains("fine-tuning"), finetuned.out());
        assertTrue(Files.isRegularFile(dir.resolve("ft/model.safetensors")));
    }

    @Test
    void finetuneBertReportsHeldOutAccuracy() throws Exception {
        StringBuilder csv = new StringBuilder("text,label\n");
        for (int i = 0; i < 40; i++) {
            csv.append(i % 2 == 0 ? "a good day,pos\n" : "a bad day,neg\n");
        }
        Path data = dir.resolve("data.csv");
        Files.writeString(data, csv);
        CliRun r = CliRun.of("finetune", "bert", "--data", data.toString(), "--max-length", "8", "--steps", "30",
                "--batch", "8", "--held-out", "0.25", "--save", dir.resolve("cls").toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("held-out accuracy") && r.out().contains("10 texts"), r.out());
        assertTrue(Files.isRegularFile(dir.resolve("cls/config.json")));
        CliRun noLabel = CliRun.of("finetune", "bert", "--data", data.toString(), "--label-column", "stars");
        assertEquals(1, noLabel.code());
        assertTrue(noLabel.err().contains("stars"), noLabel.err());
    }

    @Test
    void trainBertLowersTheMaskedLmLoss() throws Exception {
        Path corpus = dir.resolve("bert.txt");
        Files.writeString(corpus, "the cat sat on the mat. the dog sat on the log.\n".repeat(200));
        CliRun r = CliRun.of("train", "bert", "--data", corpus.toString(), "--preset", "tiny", "--max-length", "16",
                "--steps", "40", "--batch", "8", "--lr", "3e-3", "--save", dir.resolve("bert").toString());
        assertEquals(0, r.code(), r.out() + r.err());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("training loss ([0-9.]+) -> ([0-9.]+)")
                .matcher(r.out());
        assertTrue(m.find(), r.out());
        assertTrue(Double.parseDouble(m.group(2)) < Double.parseDouble(m.group(1)) - 1, r.out());
        assertTrue(Files.isRegularFile(dir.resolve("bert/vocab.txt")));
    }

    @Test
    void badInputsAreNamed() throws Exception {
        CliRun missing = CliRun.of("generate", "--checkpoint", dir.resolve("nope").toString(), "--prompt", "x");
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("nope"), missing.err());
        CliRun noData = CliRun.of("train", "gpt2");
        assertEquals(2, noData.code());
        assertTrue(noData.err().contains("--data"), noData.err());
        Path empty = dir.resolve("empty.txt");
        Files.writeString(empty, "");
        CliRun emptyCorpus = CliRun.of("train", "gpt2", "--data", empty.toString(), "--tokenizer", "bpe:300");
        assertEquals(1, emptyCorpus.code());
        assertTrue(emptyCorpus.err().contains("empty"), emptyCorpus.err());
        CliRun graphDropout = CliRun.of("train", "gpt2", "--data", empty.toString(), "--cuda-graph", "--dropout",
                "0.1");
        assertEquals(2, graphDropout.code());
        assertTrue(graphDropout.err().contains("--cuda-graph") && graphDropout.err().contains("0.1"),
                graphDropout.err());
        CliRun preset = CliRun.of("train", "gpt2", "--data", empty.toString(), "--preset", "huge");
        assertEquals(2, preset.code());
        assertTrue(preset.err().contains("huge"), preset.err());
        CliRun precision = CliRun.of("train", "gpt2", "--data", empty.toString(), "--precision", "fp8");
        assertEquals(2, precision.code());
        assertTrue(precision.err().contains("fp8") && precision.err().contains("bf16"), precision.err());
    }

    @Test
    void trainGpt2InFp16ShowsTheLossScale() throws Exception {
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "To be, or not to be, that is the question:\n".repeat(40));
        CliRun train = CliRun.of("train", "gpt2", "--data", corpus.toString(), "--tokenizer", "bpe:300", "--block", "16",
                "--steps", "4", "--batch", "2", "--eval-every", "2", "--precision", "fp16");
        assertEquals(0, train.code(), train.out() + train.err());
        assertTrue(train.out().contains("fp16"), train.out());
        assertTrue(train.out().contains("scale") && train.out().contains("skipped"), train.out());
        assertTrue(train.out().contains("validation loss"), train.out());
    }
}
