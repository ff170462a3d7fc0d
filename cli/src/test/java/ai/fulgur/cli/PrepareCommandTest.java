package ai.fulgur.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.datasets.shard.TokenShards;
import ai.fulgur.datasets.tokenizer.Gpt2Tokenizer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrepareCommandTest {
    @TempDir
    Path dir;

    /** Shards of one file hold GPT-2's encoding of it: training tokens first, the last tenth for validation. */
    @Test
    void shardsHoldTheTokenizersEncodingSplitForValidation() throws Exception {
        String text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n".repeat(20);
        Path input = dir.resolve("corpus.txt");
        Files.writeString(input, text);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = Main.run(new String[] {"prepare", input.toString(), "--out", dir.resolve("shards").toString(),
                "--val", "0.1"}, new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertEquals(0, code, out.toString(StandardCharsets.UTF_8));
        int[] expected = Gpt2Tokenizer.gpt2().encode(text);
        int[] got = new int[expected.length];
        long trainTokens;
        try (TokenShards train = TokenShards.openSplit(dir.resolve("shards"), "train");
                TokenShards val = TokenShards.openSplit(dir.resolve("shards"), "val")) {
            trainTokens = train.size();
            assertEquals(expected.length, train.size() + val.size());
            train.read(0, got, 0, (int) train.size());
            val.read(0, got, (int) train.size(), (int) val.size());
        }
        assertArrayEquals(expected, got);
        assertEquals(Math.round(expected.length * 0.1), expected.length - trainTokens);
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("training tokens"));
    }

    @Test
    void missingOutputDirectoryIsAUsageError() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(new String[] {"prepare", "x.txt"}, System.out,
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(2, code);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--out DIR is required"));
    }
}
