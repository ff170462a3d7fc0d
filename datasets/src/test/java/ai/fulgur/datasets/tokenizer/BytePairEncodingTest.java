package ai.fulgur.datasets.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BytePairEncodingTest {

    private final BytePairEncoding gpt2 = Gpt2Tokenizer.gpt2().bpe();

    @TempDir
    Path dir;

    @Test
    void savingGpt2ReproducesItsFilesByteForByte() throws IOException {
        gpt2.save(dir);
        for (String file : new String[] {BytePairEncoding.ENCODER_FILE, BytePairEncoding.MERGES_FILE}) {
            byte[] shipped = BytePairEncoding.resource(Gpt2Tokenizer.GPT2_RESOURCES + file);
            assertTrue(Arrays.equals(shipped, Files.readAllBytes(dir.resolve(file))), file + " differs after save");
        }
    }

    @Test
    void heapMergeEqualsGpt2sLoopOnRandomPieces() {
        assertTrue(gpt2.heapAllowed(), "GPT-2's merges never create a pair that ranks before them");
        Random random = new Random(11);
        for (int trial = 0; trial < 3000; trial++) {
            String piece = trial % 2 == 0
                    ? RandomText.validString(random, 1 + random.nextInt(80))
                    : randomWord(random, 1 + random.nextInt(200));
            byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
            int[] word = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                word[i] = gpt2.id(String.valueOf(ByteLevel.charOf(bytes[i] & 0xFF))).getAsInt();
            }
            assertArrayEquals(gpt2.mergeNaive(word.clone()), gpt2.mergeWithHeap(word.clone()), Fixtures.show(piece));
        }
    }

    /** Letters from a small alphabet, so that long pieces keep merging for many rounds. */
    private static String randomWord(Random random, int length) {
        String alphabet = "etaoinshrdlu ";
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < length; i++) {
            out.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return out.toString();
    }

    @Test
    void missingFilesAreNamed() throws IOException {
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> BytePairEncoding.load(dir));
        assertTrue(e.getMessage().contains(dir.resolve("encoder.json").toString()), e.getMessage());
        gpt2.save(dir);
        Files.delete(dir.resolve("vocab.bpe"));
        e = assertThrows(NoSuchFileException.class, () -> Gpt2Tokenizer.load(dir));
        assertTrue(e.getMessage().contains(dir.resolve("vocab.bpe").toString()), e.getMessage());
    }

    @Test
    void corruptEncoderJsonIsNamedWithLineAndColumn() throws IOException {
        gpt2.save(dir);
        Path encoder = dir.resolve("encoder.json");
        Files.writeString(encoder, "{\"!\": 0,\n \"\\\"\": 1,\n oops}");
        VocabFileException e = assertThrows(VocabFileException.class, () -> Gpt2Tokenizer.load(dir));
        assertEquals(encoder.toString(), e.file());
        assertEquals(encoder + ": invalid JSON at line 3, column 2: unexpected 'o', expected a string key",
                e.getMessage());

        Files.writeString(encoder, "[1, 2]");
        e = assertThrows(VocabFileException.class, () -> Gpt2Tokenizer.load(dir));
        assertTrue(e.getMessage().startsWith(encoder + ": expected a JSON object"), e.getMessage());

        Files.writeString(encoder, "{\"a\": 0, \"b\": 5}");
        e = assertThrows(VocabFileException.class, () -> Gpt2Tokenizer.load(dir));
        assertEquals(encoder + ": token \"b\" has id 5; ids must be the integers 0..1 (the file has 2 tokens)",
                e.getMessage());

        Files.writeString(encoder, "{\"a\": 0}");
        e = assertThrows(VocabFileException.class, () -> Gpt2Tokenizer.load(dir));
        assertTrue(e.getMessage().startsWith(encoder + ": no token for byte 0x00"), e.getMessage());

        Files.write(encoder, new byte[] {'{', (byte) 0xC3, '}'});
        e = assertThrows(VocabFileException.class, () -> Gpt2Tokenizer.load(dir));
        assertTrue(e.getMessage().startsWith(encoder + ": not valid UTF-8"), e.getMessage());
    }

    @Test
    void corruptMergesAreNamedWithTheLine() throws IOException {
        gpt2.save(dir);
        Path merges = dir.resolve("vocab.bpe");
        Files.writeString(merges, "#version: 0.2\nĠ t\nthree tokens here\n");
        VocabFileException e = assertThrows(VocabFileException.class, () -> Gpt2Tokenizer.load(dir));
        assertEquals(merges + ": line 3 is \"three tokens here\"; expected two tokens separated by one space",
                e.getMessage());

        Files.writeString(merges, "#version: 0.2\nĠ t\nĠ zzzunknown\n");
        e = assertThrows(VocabFileException.class, () -> Gpt2Tokenizer.load(dir));
        assertTrue(e.getMessage().startsWith(merges + ": merge 2 (line 3) \"\\u0120\" \"zzzunknown\" uses"),
                e.getMessage());
        assertTrue(e.getMessage().endsWith("which is not a token of " + dir.resolve("encoder.json")), e.getMessage());

        Files.writeString(merges, "#version: 0.2\nĠ t\nĠ t\n");
        e = assertThrows(VocabFileException.class, () -> Gpt2Tokenizer.load(dir));
        assertTrue(e.getMessage().startsWith(merges + ": merge 2 (line 3)"), e.getMessage());
        assertTrue(e.getMessage().endsWith("repeats merge 1"), e.getMessage());
    }

    @Test
    void jsonQuoteWritesLikePythonsJsonDumps() {
        assertEquals("\"a\\\"b\\\\c\\n\\t\\u0001~\\u007f\\u00e9\\u0120\\ud83d\\ude00\"",
                Json.quote("a\"b\\c\n\t\u0001~\u007fé\u0120\uD83D\uDE00"));
    }
}
