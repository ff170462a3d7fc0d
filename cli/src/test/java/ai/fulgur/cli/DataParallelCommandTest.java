package ai.fulgur.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fulgur train gpt2 --processes 2 --accumulate 2 --recompute} (two CPU ranks, each with half of every batch
 * in two micro-batches, activations recomputed) ends at the validation loss of the same run in one process, writes
 * one checkpoint, and usage mistakes are named.
 */
class DataParallelCommandTest {
    @TempDir
    Path dir;

    private static double validationLoss(String out) {
        Matcher m = Pattern.compile("validation loss ([0-9.]+) after").matcher(out);
        assertTrue(m.find(), out);
        return Double.parseDouble(m.group(1));
    }

    @Test
    void twoProcessesEndWhereOneDoes() throws Exception {
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to "
                + "suffer\nThe slings and arrows of outrageous fortune,\n".repeat(30));
        String[] common = {"train", "gpt2", "--data", corpus.toString(), "--tokenizer", "bpe:300", "--block", "32",
            "--steps", "5", "--batch", "4", "--eval-every", "5", "--device", "cpu"};
        CliRun one = CliRun.of(concat(common, "--save", dir.resolve("one").toString()));
        assertEquals(0, one.code(), one.out() + one.err());
        CliRun two = CliRun.of(concat(common, "--processes", "2", "--accumulate", "2", "--recompute", "--save",
                dir.resolve("two").toString()));
        assertEquals(0, two.code(), two.out() + two.err());
        assertTrue(two.out().contains("data parallel: 2 ranks, global batch 4 (2 per rank), all-reduce in 25 MB "
                + "buckets during the backward pass"), two.out());
        assertEquals(validationLoss(one.out()), validationLoss(two.out()), 2e-4);
        assertTrue(Files.isRegularFile(dir.resolve("two/model.safetensors")));
    }

    @Test
    void aBatchThatDoesNotSplitIsAUsageError() {
        CliRun r = CliRun.of("train", "gpt2", "--data", "x.txt", "--batch", "5", "--processes", "2");
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("--batch 5 must be a multiple of the 2 data-parallel processes times the 1 micro-batches"), r.err());
        r = CliRun.of("train", "gpt2", "--data", "x.txt", "--gpus", "2", "--device", "cpu");
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("--gpus places rank r on gpu:r"), r.err());
        r = CliRun.of("train", "gpt2", "--data", "x.txt", "--processes", "2", "--bucket-mb", "0");
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("--bucket-mb must be positive, got 0"), r.err());
    }

    private static String[] concat(String[] a, String... b) {
        String[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
