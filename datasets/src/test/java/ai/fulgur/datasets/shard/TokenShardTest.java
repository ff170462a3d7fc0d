package ai.fulgur.datasets.shard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Shard files: write then read back, with the bytes on disk checked against the documented layout decoded here by
 * hand (ByteBuffer, little-endian), and every kind of bad file giving its named error.
 */
class TokenShardTest {

    @TempDir
    Path dir;

    @Test
    void dtypeFollowsVocabularySize() {
        assertEquals(TokenDType.UINT16, TokenDType.forVocabSize(1));
        assertEquals(TokenDType.UINT16, TokenDType.forVocabSize(50257));
        assertEquals(TokenDType.UINT16, TokenDType.forVocabSize(65536));
        assertEquals(TokenDType.UINT32, TokenDType.forVocabSize(65537));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TokenDType.forVocabSize(0));
        assertEquals("vocabSize must be at least 1, got 0", e.getMessage());
    }

    @Test
    void uint16RoundTripKeepsIdsAbove32767() throws IOException {
        // > 1 MB of tokens, so the writer's buffer is flushed several times
        int[] tokens = randomTokens(540_001, 50257, 1);
        tokens[0] = 50256;
        tokens[1] = 0;
        tokens[2] = 32768;
        assertRoundTrip(tokens, 50257, TokenDType.UINT16);
    }

    @Test
    void uint32RoundTrip() throws IOException {
        int[] tokens = randomTokens(270_003, 100_000, 2);
        tokens[0] = 99_999;
        tokens[1] = 65536;
        assertRoundTrip(tokens, 100_000, TokenDType.UINT32);
    }

    @Test
    void emptyShardRoundTrips() throws IOException {
        assertRoundTrip(new int[0], 10, TokenDType.UINT16);
    }

    private void assertRoundTrip(int[] tokens, int vocabSize, TokenDType dtype) throws IOException {
        Path file = dir.resolve("shard.tok");
        try (TokenShardWriter out = new TokenShardWriter(file, vocabSize)) {
            assertEquals(dtype, out.dtype());
            // single tokens, then slices, to cover both paths
            int half = tokens.length / 2;
            for (int i = 0; i < Math.min(half, 1000); i++) {
                out.write(tokens[i]);
            }
            out.write(tokens, Math.min(half, 1000), tokens.length - Math.min(half, 1000));
            assertEquals(tokens.length, out.count());
        }

        // the bytes on disk, decoded by hand from the documented layout
        byte[] bytes = Files.readAllBytes(file);
        assertEquals(32L + (long) tokens.length * dtype.bytes(), bytes.length);
        ByteBuffer raw = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals("FLGRTOKS", new String(bytes, 0, 8, StandardCharsets.US_ASCII));
        assertEquals(1, raw.getInt(8));
        assertEquals(dtype == TokenDType.UINT16 ? 1 : 2, raw.getInt(12));
        assertEquals(tokens.length, raw.getLong(16));
        assertEquals(vocabSize, raw.getInt(24));
        for (int i = 0; i < tokens.length; i++) {
            int onDisk = dtype == TokenDType.UINT16 ? raw.getShort(32 + 2 * i) & 0xffff : raw.getInt(32 + 4 * i);
            if (onDisk != tokens[i]) {
                throw new AssertionError("token " + i + " on disk is " + onDisk + ", expected " + tokens[i]);
            }
        }

        try (TokenShard shard = TokenShard.open(file)) {
            assertEquals(tokens.length, shard.size());
            assertEquals(vocabSize, shard.vocabSize());
            assertEquals(new ShardHeader(dtype, tokens.length, vocabSize), shard.header());
            for (int i = 0; i < tokens.length; i += 997) {
                assertEquals(tokens[i], shard.get(i), "get(" + i + ")");
            }
            int[] all = new int[tokens.length + 2];
            shard.read(0, all, 1, tokens.length);
            assertArrayEquals(tokens, Arrays.copyOfRange(all, 1, tokens.length + 1));
            if (tokens.length > 10) {
                int[] some = new int[7];
                shard.read(tokens.length - 7, some, 0, 7);
                assertArrayEquals(Arrays.copyOfRange(tokens, tokens.length - 7, tokens.length), some);
            }
            assertThrows(IndexOutOfBoundsException.class, () -> shard.get(tokens.length));
            assertThrows(IndexOutOfBoundsException.class, () -> shard.get(-1));
            assertThrows(IndexOutOfBoundsException.class, () -> shard.read(tokens.length - 1, new int[2], 0, 2));
        }
    }

    @Test
    void writerRejectsTokensOutsideTheVocabularyAndStaysUsable() throws IOException {
        Path file = dir.resolve("v.tok");
        try (TokenShardWriter out = new TokenShardWriter(file, 100)) {
            out.write(5);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> out.write(100));
            assertTrue(e.getMessage().startsWith("token 100 at position 1 of "), e.getMessage());
            assertTrue(e.getMessage().endsWith("is outside the vocabulary [0, 100)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> out.write(new int[] {1, 2, -3}));
            assertTrue(e.getMessage().startsWith("token -3 at position 3 of "), e.getMessage());
            out.write(new int[] {7, 99});
        }
        try (TokenShard shard = TokenShard.open(file)) {
            int[] all = new int[3];
            shard.read(0, all, 0, 3);
            assertArrayEquals(new int[] {5, 7, 99}, all);
        }
    }

    @Test
    void shardAppearsOnlyOnCloseAndAbortLeavesTheOldFile() throws IOException {
        Path file = dir.resolve("atomic.tok");
        TokenShardWriter writer = new TokenShardWriter(file, 10);
        writer.write(new int[] {1, 2, 3});
        assertFalse(Files.exists(file), "the shard must not exist before close()");
        assertEquals(1, temporaryFiles().size());
        writer.close();
        assertTrue(Files.exists(file));
        assertEquals(List.of(), temporaryFiles());
        assertThrows(IllegalStateException.class, () -> writer.write(1));

        byte[] before = Files.readAllBytes(file);
        TokenShardWriter aborted = new TokenShardWriter(file, 10);
        aborted.write(9);
        aborted.abort();
        aborted.close(); // no effect after abort
        assertArrayEquals(before, Files.readAllBytes(file));
        assertEquals(List.of(), temporaryFiles());
    }

    private List<Path> temporaryFiles() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
        }
    }

    @Test
    void textFileIsNotAShard() throws IOException {
        Path file = dir.resolve("readme.tok");
        Files.writeString(file, "hello, this is text and not tokens");
        ShardFormatException e = assertThrows(ShardFormatException.class, () -> TokenShard.open(file));
        assertEquals(file + ": not a token shard: expected the magic bytes \"FLGRTOKS\" at offset 0, found "
                + "\"hello, t\" (file of 34 bytes)", e.getMessage());
        assertEquals(file, e.file());

        Path empty = Files.createFile(dir.resolve("empty.tok"));
        e = assertThrows(ShardFormatException.class, () -> TokenShard.open(empty));
        assertTrue(e.getMessage().contains("not a token shard") && e.getMessage().contains("found an empty file"),
                e.getMessage());
    }

    @Test
    void unsupportedVersionIsNamed() throws IOException {
        Path file = writeShard("version.tok", new int[] {1, 2, 3}, 10);
        patchInt(file, 8, 7);
        ShardFormatException e = assertThrows(ShardFormatException.class, () -> TokenShard.open(file));
        assertEquals(file + ": unsupported shard format version 7; this reader reads version 1", e.getMessage());
    }

    @Test
    void unknownTokenTypeIsNamed() throws IOException {
        Path file = writeShard("dtype.tok", new int[] {1, 2, 3}, 10);
        patchInt(file, 12, 3);
        ShardFormatException e = assertThrows(ShardFormatException.class, () -> TokenShard.open(file));
        assertEquals(file + ": unknown token type code 3; expected 1 (uint16) or 2 (uint32)", e.getMessage());
    }

    @Test
    void truncatedFileSaysExpectedAndActualSize() throws IOException {
        Path file = writeShard("cut.tok", new int[] {1, 2, 3, 4}, 70_000); // uint32: 32 + 16 bytes
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(bytes, bytes.length - 3));
        ShardFormatException e = assertThrows(ShardFormatException.class, () -> TokenShard.open(file));
        assertEquals(file + ": truncated: expected 48 bytes (32-byte header + 4 tokens x 4 bytes), got 45 bytes",
                e.getMessage());

        Files.write(file, Arrays.copyOf(bytes, 20)); // inside the header
        e = assertThrows(ShardFormatException.class, () -> TokenShard.open(file));
        assertEquals(file + ": truncated: expected at least the 32-byte header, got 20 bytes", e.getMessage());

        Files.write(file, Arrays.copyOf(bytes, bytes.length + 2)); // trailing garbage
        e = assertThrows(ShardFormatException.class, () -> TokenShard.open(file));
        assertTrue(e.getMessage().contains("trailing bytes: expected 48 bytes"), e.getMessage());
    }

    @Test
    void missingFileIsNamed() {
        Path file = dir.resolve("nope.tok");
        IOException e = assertThrows(IOException.class, () -> TokenShard.open(file));
        assertTrue(e.getMessage().contains("nope.tok"), e.getMessage());
    }

    @Test
    void readsAfterCloseFail() throws IOException {
        TokenShard shard = TokenShard.open(writeShard("closed.tok", new int[] {4}, 10));
        assertEquals(4, shard.get(0));
        shard.close();
        assertThrows(IllegalStateException.class, () -> shard.get(0));
    }

    private Path writeShard(String name, int[] tokens, int vocabSize) throws IOException {
        Path file = dir.resolve(name);
        try (TokenShardWriter out = new TokenShardWriter(file, vocabSize)) {
            out.write(tokens);
        }
        return file;
    }

    private static void patchInt(Path file, int offset, int value) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(offset, value);
        Files.write(file, bytes);
    }

    static int[] randomTokens(int n, int vocabSize, long seed) {
        Random random = new Random(seed);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = random.nextInt(vocabSize);
        }
        return out;
    }
}
