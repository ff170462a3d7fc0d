package ai.fulgur.datasets.shard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.datasets.tokenizer.Gpt2Tokenizer;
import ai.fulgur.datasets.tokenizer.TinyShakespeare;
import ai.fulgur.datasets.tokenizer.WordPieceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Text to shards, checked against the tokenizer run on each whole file, joined by hand with separators. */
class ShardPreparerTest {

    private static final Gpt2Tokenizer GPT2 = Gpt2Tokenizer.gpt2();

    @TempDir
    Path dir;

    @Test
    void tinyShakespeareShardsHoldGpt2sEncodingOfTheWholeText() throws IOException {
        Path corpus = TinyShakespeare.find();
        Assumptions.assumeTrue(corpus != null, "tinyshakespeare.txt not found; " + TinyShakespeare.HINT);
        int[] expected = GPT2.encode(Files.readString(corpus)); // one document: no separator
        long fileBytes = Files.size(corpus);
        List<long[]> updates = new ArrayList<>();
        PreparedShards prepared = ShardPreparer.builder(GPT2)
                .optValidationFraction(0.1)
                .optMaxTokensPerShard(100_000)
                .optChunkChars(50_000) // many pieces, to exercise piecewise encoding
                .optProgress((done, total) -> updates.add(new long[] {done, total}))
                .build()
                .prepare(corpus, dir.resolve("shakespeare"));

        long validation = Math.round(expected.length * 0.1);
        assertEquals(expected.length - validation, prepared.trainTokens());
        assertEquals(validation, prepared.validationTokens());
        assertEquals(1, prepared.documents());
        assertEquals(fileBytes, prepared.bytes());
        // 304,222 train tokens in shards of 100,000: 4 files
        assertEquals((expected.length - validation + 99_999) / 100_000, prepared.trainShards().size());
        assertEquals(1, prepared.validationShards().size());
        try (TokenShards train = TokenShards.openSplit(dir.resolve("shakespeare"), "train");
                TokenShards val = TokenShards.openSplit(dir.resolve("shakespeare"), "val")) {
            assertEquals(prepared.trainShards(), train.shards().stream().map(TokenShard::file).toList());
            assertEquals(TokenDType.UINT16, train.shards().getFirst().header().dtype());
            assertEquals(100_000, train.shards().getFirst().size());
            int[] actual = new int[expected.length];
            train.read(0, actual, 0, (int) train.size());
            val.read(0, actual, (int) train.size(), (int) val.size());
            assertArrayEquals(expected, actual);
        }

        assertTrue(updates.size() > 10, "progress told " + updates.size() + " times");
        for (int i = 1; i < updates.size(); i++) {
            assertTrue(updates.get(i)[0] >= updates.get(i - 1)[0], "progress went backwards");
        }
        assertArrayEquals(new long[] {fileBytes, fileBytes}, updates.getLast());
        assertScratchGone(dir.resolve("shakespeare"));
    }

    @Test
    void documentsAreJoinedByEndOfText() throws IOException {
        Path texts = Files.createDirectories(dir.resolve("texts"));
        Files.writeString(texts.resolve("b.txt"), "Second document.\n");
        Files.writeString(texts.resolve("a.txt"), "First document, with a <|endoftext|> in its text.");
        Files.writeString(texts.resolve("c.txt"), ""); // empty: skipped, no separator of its own
        Files.createDirectories(texts.resolve("sub"));
        Files.writeString(texts.resolve("sub/d.txt"), "Third, in a subdirectory.");
        Files.writeString(texts.resolve("notes.md"), "not a .txt file, not read");

        PreparedShards prepared = ShardPreparer.builder(GPT2).optValidationFraction(0).build()
                .prepare(texts, dir.resolve("out"));

        int eot = 50256;
        int[] expected = TokenShardsTest.concat(GPT2.encode("First document, with a <|endoftext|> in its text."),
                new int[] {eot}, GPT2.encode("Second document.\n"), new int[] {eot},
                GPT2.encode("Third, in a subdirectory."));
        assertEquals(3, prepared.documents());
        assertEquals(List.of(), prepared.validationShards());
        assertArrayEquals(expected, readAll(dir.resolve("out"), "train"));
    }

    @Test
    void wordPieceCorpusHasNoSeparatorByDefault() throws IOException {
        WordPieceTokenizer bert = WordPieceTokenizer.bertBaseUncased();
        Path a = Files.writeString(dir.resolve("a.txt"), "Hello, world!");
        Path b = Files.writeString(dir.resolve("b.txt"), "Unaffable text.");
        ShardPreparer.builder(bert).optValidationFraction(0).build().prepare(List.of(a, b), dir.resolve("out"));
        assertArrayEquals(TokenShardsTest.concat(bert.encode("Hello, world!"), bert.encode("Unaffable text.")),
                readAll(dir.resolve("out"), "train"));

        ShardPreparer.builder(bert).optValidationFraction(0).optDocumentSeparator(bert.sepId()).optOverwrite(true)
                .build().prepare(List.of(a, b), dir.resolve("out"));
        assertArrayEquals(TokenShardsTest.concat(bert.encode("Hello, world!"), new int[] {bert.sepId()},
                bert.encode("Unaffable text.")), readAll(dir.resolve("out"), "train"));
    }

    @Test
    void emptyCorpusNamesTheFiles() throws IOException {
        Path a = Files.writeString(dir.resolve("a.txt"), "");
        Path b = Files.writeString(dir.resolve("b.txt"), "");
        ShardPreparer preparer = ShardPreparer.builder(GPT2).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> preparer.prepare(List.of(a, b), dir.resolve("out")));
        assertEquals("the corpus has no tokens: [" + a + ", " + b + "] hold no text; expected at least one "
                + "non-empty UTF-8 file", e.getMessage());
        assertScratchGone(dir.resolve("out"));

        Path none = Files.createDirectories(dir.resolve("none"));
        e = assertThrows(IllegalArgumentException.class, () -> preparer.prepare(none, dir.resolve("out")));
        assertEquals("no *.txt files under " + none + "; expected UTF-8 text files", e.getMessage());
        IOException missing = assertThrows(IOException.class,
                () -> preparer.prepare(dir.resolve("missing.txt"), dir.resolve("out")));
        assertTrue(missing.getMessage().contains("missing.txt"), missing.getMessage());
    }

    @Test
    void tooSmallToHoldOutValidation() throws IOException {
        Path a = Files.writeString(dir.resolve("a.txt"), "Hi");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ShardPreparer.builder(GPT2).build().prepare(a, dir.resolve("out")));
        assertTrue(e.getMessage().startsWith("a corpus of 1 tokens is too small to hold out 0.1 of it"),
                e.getMessage());
    }

    @Test
    void earlierShardsAreRefusedUnlessOverwriting() throws IOException {
        Path a = Files.writeString(dir.resolve("a.txt"), "one two three four five six seven eight nine ten");
        Path out = dir.resolve("out");
        ShardPreparer small = ShardPreparer.builder(GPT2).optMaxTokensPerShard(2).optValidationFraction(0).build();
        assertEquals(5, small.prepare(a, out).trainShards().size());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> small.prepare(a, out));
        assertTrue(e.getMessage().startsWith(out + " already holds 5 shards (train_000000.tok, ...)"),
                e.getMessage());

        // a second run with larger shards must not leave train_000001.tok .. 000004 behind
        ShardPreparer.builder(GPT2).optValidationFraction(0).optOverwrite(true).build().prepare(a, out);
        try (Stream<Path> files = Files.list(out)) {
            assertEquals(List.of("train_000000.tok"), files.map(p -> p.getFileName().toString()).toList());
        }
        assertArrayEquals(GPT2.encode(Files.readString(a)), readAll(out, "train"));
    }

    @Test
    void builderRejectsBadOptions() {
        ShardPreparer.Builder builder = ShardPreparer.builder(GPT2);
        assertEquals("validation fraction must be in [0, 1), got 1.0",
                assertThrows(IllegalArgumentException.class, () -> builder.optValidationFraction(1)).getMessage());
        assertEquals("separator token 50257 is outside the vocabulary [0, 50257)",
                assertThrows(IllegalArgumentException.class, () -> builder.optDocumentSeparator(50257)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> builder.optMaxTokensPerShard(0));
    }

    private static int[] readAll(Path directory, String split) throws IOException {
        try (TokenShards shards = TokenShards.openSplit(directory, split)) {
            int[] out = new int[(int) shards.size()];
            shards.read(0, out, 0, out.length);
            return out;
        }
    }

    private static void assertScratchGone(Path directory) throws IOException {
        if (!Files.isDirectory(directory)) {
            return;
        }
        try (Stream<Path> files = Files.list(directory)) {
            List<String> names = files.map(p -> p.getFileName().toString()).toList();
            assertFalse(names.stream().anyMatch(n -> n.startsWith(".prepare") || n.endsWith(".tmp")),
                    "scratch files left: " + names);
        }
    }
}
