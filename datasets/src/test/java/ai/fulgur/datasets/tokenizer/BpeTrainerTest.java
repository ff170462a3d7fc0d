package ai.fulgur.datasets.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BpeTrainerTest {

    private static final String CORPUS = """
            First Citizen:
            Before we proceed any further, hear me speak.

            All:
            Speak, speak.

            First Citizen:
            You are all resolved rather to die than to famish?

            All:
            Resolved. resolved.

            First Citizen:
            First, you know Caius Marcius is chief enemy to the people.

            All:
            We know't, we know't.

            Die Bürger sprechen: „Wir wissen's!“ — 市民は言った。 😀 ✓✓✓
            """;

    @TempDir
    Path dir;

    @Test
    void trainedVocabularySavesLoadsAndRoundTrips() throws IOException {
        BytePairEncoding bpe = BpeTrainer.builder().setVocabSize(300).build().train(CORPUS);
        assertEquals(300, bpe.size());
        assertEquals(43, bpe.mergeCount()); // 256 bytes + 43 merges + <|endoftext|>
        assertEquals("<|endoftext|>", bpe.token(299));

        bpe.save(dir);
        Gpt2Tokenizer tokenizer = Gpt2Tokenizer.load(dir);
        assertEquals(300, tokenizer.vocabSize());
        assertEquals(299, tokenizer.endOfTextId());
        assertEquals(bpe.merges().size(), tokenizer.bpe().merges().size());

        int[] ids = tokenizer.encode(CORPUS);
        assertEquals(CORPUS, tokenizer.decode(ids));
        int bytes = CORPUS.getBytes(StandardCharsets.UTF_8).length;
        assertTrue(ids.length < bytes * 0.75, ids.length + " tokens for " + bytes + " bytes");
        assertArrayEquals(ids, new Gpt2Tokenizer(bpe).encode(CORPUS), "loaded and in-memory vocabularies agree");

        Random random = new Random(5);
        for (int trial = 0; trial < 500; trial++) {
            String text = RandomText.validString(random, 1 + random.nextInt(30));
            assertEquals(Fixtures.show(text), Fixtures.show(tokenizer.decode(tokenizer.encode(text))));
        }
    }

    @Test
    void trainingIsDeterministicAndBreaksTiesByTokenIds() {
        BpeTrainer trainer = BpeTrainer.builder().setVocabSize(400).build();
        List<String[]> first = trainer.train(CORPUS).merges();
        List<String[]> second = trainer.train(List.of(CORPUS)).merges();
        assertEquals(first.size(), second.size());
        for (int i = 0; i < first.size(); i++) {
            assertArrayEquals(first.get(i), second.get(i), "merge " + i);
        }
        // "ab" and "cd" both occur twice; a (id 64) < c (id 66), so "a b" goes first, then "c d"
        BytePairEncoding tie = BpeTrainer.builder().setVocabSize(259).build().train("ab ab cd cd");
        assertArrayEquals(new String[] {"a", "b"}, tie.merges().get(0));
        assertArrayEquals(new String[] {"c", "d"}, tie.merges().get(1));
        assertEquals(259, tie.size());
    }

    @Test
    void mergesAreLearnedByFrequencyInsidePiecesOnly() {
        // pieces: "the" once, " the" three times, " cat" once (a word keeps its leading space, Ġ in byte level)
        assertEquals(List.of("the", " the", " the", " the", " cat"), Gpt2PreTokenizer.split("the the the the cat"));
        BytePairEncoding bpe = BpeTrainer.builder().setVocabSize(260).build().train("the the the the cat");
        // "t h" and "h e" both occur 4 times: h (id 71) < t (id 83) breaks the tie; then "t he" (4), "Ġ the" (3)
        assertArrayEquals(new String[] {"h", "e"}, bpe.merges().get(0));
        assertArrayEquals(new String[] {"t", "he"}, bpe.merges().get(1));
        assertArrayEquals(new String[] {"Ġ", "the"}, bpe.merges().get(2));
        assertEquals(3, bpe.mergeCount());
        Gpt2Tokenizer tokenizer = new Gpt2Tokenizer(bpe);
        int the = bpe.id("the").getAsInt();
        int spaceThe = bpe.id("Ġthe").getAsInt();
        int[] ids = tokenizer.encode("the the the the cat");
        assertArrayEquals(new int[] {the, spaceThe, spaceThe, spaceThe}, java.util.Arrays.copyOf(ids, 4));
        assertEquals(8, ids.length); // " cat" stays 4 byte tokens
    }

    @Test
    void stopsEarlyWhenNoPairIsFrequentEnough() {
        BytePairEncoding bpe = BpeTrainer.builder().setVocabSize(1000).build().train("abc abd");
        // pairs: a b (2), Ġ a (1), b c (1), b d (1): only "a b" reaches the default minimum of 2
        assertEquals(1, bpe.mergeCount());
        assertEquals(258, bpe.size());
        BytePairEncoding all = BpeTrainer.builder().setVocabSize(1000).optMinFrequency(1).build().train("abc abd");
        assertTrue(all.mergeCount() > 1);
    }

    @Test
    void heapMergeEqualsTheReferenceLoopOnATrainedVocabulary() {
        BytePairEncoding bpe = BpeTrainer.builder().setVocabSize(500).optMinFrequency(1).build().train(CORPUS);
        Random random = new Random(3);
        for (int trial = 0; trial < 1000; trial++) {
            String text = CORPUS.substring(random.nextInt(CORPUS.length() - 100)).substring(0, 1 + random.nextInt(99));
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            int[] word = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                word[i] = bpe.id(String.valueOf(ByteLevel.charOf(bytes[i] & 0xFF))).getAsInt();
            }
            int[] naive = bpe.mergeNaive(word.clone());
            if (bpe.heapAllowed()) {
                assertArrayEquals(naive, bpe.mergeWithHeap(word.clone()), Fixtures.show(text));
            }
            assertArrayEquals(naive, bpe.encodeBytes(bytes));
        }
    }

    @Test
    void builderRejectsBadSettings() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BpeTrainer.builder().setVocabSize(100).build());
        assertEquals("vocabSize must be at least 257 (256 byte tokens + <|endoftext|>), got 100", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> BpeTrainer.builder().build());
        assertTrue(e.getMessage().endsWith("got -1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> BpeTrainer.builder().setVocabSize(300).optMinFrequency(0).build());
        assertEquals("minFrequency must be at least 1, got 0", e.getMessage());
    }

    @Test
    void tinyShakespeareVocabularyCompresses() throws IOException {
        Path corpus = TinyShakespeare.find();
        org.junit.jupiter.api.Assumptions.assumeTrue(corpus != null, TinyShakespeare.HINT);
        String text = Files.readString(corpus);
        long start = System.nanoTime();
        BytePairEncoding bpe = BpeTrainer.builder().setVocabSize(1024).build().train(text);
        double trainSeconds = (System.nanoTime() - start) / 1e9;
        Gpt2Tokenizer tokenizer = new Gpt2Tokenizer(bpe);
        int[] ids = tokenizer.encode(text);
        System.out.printf("BpeTrainer on tinyshakespeare: 1024 tokens in %.2f s; %,d tokens (%.2f bytes per token)%n",
                trainSeconds, ids.length, text.length() / (double) ids.length);
        assertEquals(text, tokenizer.decode(ids));
        assertTrue(ids.length < text.length() / 2, ids.length + " tokens");
    }
}
