package ai.fulgur.datasets.shard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.datasets.tokenizer.Gpt2Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Piecewise reading: the pieces join back to the file, and GPT-2 encodes them piece by piece as it encodes the whole. */
class TextChunksTest {

    private static final String[] PIECES = {"a", "B", "word", " ", "  ", "\n", "\n\n", " \n", "\n ", "\t", "'s", "'",
        "!", "42", "\u00e9t\u00e9", "\u00a0", "\u3000", "\u0085", "\ud83d\ude00", "\r\n", "\n", "\nX", " \n", "\r"};

    @TempDir
    Path dir;

    @Test
    void piecesJoinBackAndEncodeLikeTheWhole() throws IOException {
        Gpt2Tokenizer gpt2 = Gpt2Tokenizer.gpt2();
        Random random = new Random(7);
        int totalPieces = 0;
        for (int round = 0; round < 30; round++) {
            StringBuilder text = new StringBuilder();
            int length = random.nextInt(3000);
            while (text.length() < length) {
                text.append(PIECES[random.nextInt(PIECES.length)]);
            }
            Path file = dir.resolve("t" + round + ".txt");
            Files.writeString(file, text);
            int chunkChars = 1 + random.nextInt(64);
            List<String> pieces = read(file, chunkChars);
            totalPieces += pieces.size();
            assertEquals(text.toString(), String.join("", pieces), "round " + round);
            List<Integer> piecewise = new ArrayList<>();
            for (String piece : pieces) {
                assertTrue(!piece.isEmpty());
                for (int id : gpt2.encode(piece)) {
                    piecewise.add(id);
                }
            }
            assertArrayEquals(gpt2.encode(text.toString()), piecewise.stream().mapToInt(i -> i).toArray(),
                    "round " + round + ", pieces of " + chunkChars + " chars");
        }
        assertTrue(totalPieces > 300, "only " + totalPieces + " pieces: the cuts were hardly tested");
    }

    @Test
    void cutsOnlyBeforeANewlineThatPrecedesNonSpace() throws IOException {
        Path file = dir.resolve("cuts.txt");
        Files.writeString(file, "ab \ncd\n\nef\r\ngh");
        // not between the two newlines of "\n\n", nor before the "\n" of "\r\n" (the run is "\r\n", cut before \n)
        assertEquals(List.of("ab ", "\ncd\n", "\nef\r", "\ngh"), read(file, 2));
        Files.writeString(file, "no newline at all");
        assertEquals(List.of("no newline at all"), read(file, 3));
        Files.writeString(file, "");
        assertEquals(List.of(), read(file, 3));
    }

    @Test
    void invalidUtf8IsNamed() throws IOException {
        Path file = dir.resolve("latin1.txt");
        Files.write(file, new byte[] {'c', 'a', 'f', (byte) 0xe9, '\n'});
        IOException e = assertThrows(IOException.class, () -> read(file, 100));
        assertTrue(e.getMessage().startsWith(file + " is not valid UTF-8"), e.getMessage());
    }

    private static List<String> read(Path file, int chunkChars) throws IOException {
        List<String> out = new ArrayList<>();
        try (TextChunks chunks = new TextChunks(file, chunkChars)) {
            for (String piece = chunks.next(); piece != null; piece = chunks.next()) {
                out.add(piece);
            }
            assertEquals(Files.size(file), chunks.bytesRead());
        }
        return out;
    }
}
