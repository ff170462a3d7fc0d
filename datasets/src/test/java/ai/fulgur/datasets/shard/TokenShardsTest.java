package ai.fulgur.datasets.shard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Several shards as one corpus, checked against the concatenation of the arrays written. */
class TokenShardsTest {

    @TempDir
    Path dir;

    @Test
    void shardsReadAsTheirConcatenationAcrossBoundaries() throws IOException {
        int[] a = TokenShardTest.randomTokens(13, 1000, 1);
        int[] b = new int[0]; // an empty shard in the middle
        int[] c = TokenShardTest.randomTokens(5, 1000, 2);
        int[] d = TokenShardTest.randomTokens(9, 1000, 3);
        // written out of name order: openDirectory sorts by name
        write("part_3.tok", d);
        write("part_0.tok", a);
        write("part_2.tok", c);
        write("part_1.tok", b);
        Files.writeString(dir.resolve("notes.txt"), "not a shard, not picked up");
        int[] all = concat(a, b, c, d);
        try (TokenShards corpus = TokenShards.openDirectory(dir)) {
            assertEquals(4, corpus.shards().size());
            assertEquals(all.length, corpus.size());
            assertEquals(1000, corpus.vocabSize());
            for (int i = 0; i < all.length; i++) {
                assertEquals(all[i], corpus.get(i), "get(" + i + ")");
            }
            for (int from = 0; from <= all.length; from++) {
                for (int length = 0; from + length <= all.length; length++) {
                    int[] out = new int[length];
                    corpus.read(from, out, 0, length);
                    assertArrayEquals(Arrays.copyOfRange(all, from, from + length), out,
                            "read(" + from + ", " + length + ")");
                }
            }
            assertThrows(IndexOutOfBoundsException.class, () -> corpus.get(all.length));
            assertThrows(IndexOutOfBoundsException.class, () -> corpus.read(all.length - 2, new int[3], 0, 3));
        }
    }

    @Test
    void splitsOpenByName() throws IOException {
        write("val_000000.tok", new int[] {9});
        write("train_000001.tok", new int[] {3, 4});
        write("train_000000.tok", new int[] {1, 2});
        try (TokenShards train = TokenShards.openSplit(dir, "train");
                TokenShards val = TokenShards.openSplit(dir, "val")) {
            int[] out = new int[4];
            train.read(0, out, 0, 4);
            assertArrayEquals(new int[] {1, 2, 3, 4}, out);
            assertEquals(1, val.size());
        }
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> TokenShards.openSplit(dir, "test"));
        assertTrue(e.getMessage().contains("no token shards matching test_*.tok"), e.getMessage());
        e = assertThrows(NoSuchFileException.class, () -> TokenShards.openDirectory(dir.resolve("missing")));
        assertTrue(e.getMessage().contains("shard directory not found"), e.getMessage());
    }

    @Test
    void shardsOfDifferentVocabulariesAreRefused() throws IOException {
        Path small = write("a.tok", new int[] {1}, 100);
        Path large = write("b.tok", new int[] {1}, 200);
        ShardFormatException e = assertThrows(ShardFormatException.class,
                () -> TokenShards.open(List.of(small, large)));
        assertEquals(large + ": vocabulary size 200 differs from 100 of " + small
                + "; all shards of a corpus must come from one tokenizer", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TokenShards.open(List.of()));
    }

    @Test
    void arraySourceReadsLikeAShard() {
        TokenSource source = TokenSource.of(new int[] {5, 6, 7});
        assertEquals(3, source.size());
        assertEquals(6, source.get(1));
        int[] out = new int[2];
        source.read(1, out, 0, 2);
        assertArrayEquals(new int[] {6, 7}, out);
        assertThrows(IndexOutOfBoundsException.class, () -> source.read(2, out, 0, 2));
    }

    private Path write(String name, int[] tokens) throws IOException {
        return write(name, tokens, 1000);
    }

    private Path write(String name, int[] tokens, int vocabSize) throws IOException {
        Path file = dir.resolve(name);
        try (TokenShardWriter out = new TokenShardWriter(file, vocabSize)) {
            out.write(tokens);
        }
        return file;
    }

    static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) {
            n += p.length;
        }
        int[] out = new int[n];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }
}
