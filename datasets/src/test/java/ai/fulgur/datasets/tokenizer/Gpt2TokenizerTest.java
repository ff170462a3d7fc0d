package ai.fulgur.datasets.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * GPT-2 encodings against two references: gpt2-encode.json (249 strings, ids from the npm package gpt-3-encoder's
 * JavaScript encode, each also checked against OpenAI's encoder.py algorithm on Python's regex module) and
 * gpt2-encode-python.json (strings where that JavaScript port is not a faithful reference, ids from the Python one).
 * A further reference, Hugging Face tokenizers on the GPU machine's Python, can be added later as another fixture.
 */
class Gpt2TokenizerTest {

    private final Gpt2Tokenizer gpt2 = Gpt2Tokenizer.gpt2();

    @Test
    void vocabularyIsGpt2s() {
        assertEquals(50257, gpt2.vocabSize());
        assertEquals(50000, gpt2.bpe().mergeCount());
        assertEquals(50256, gpt2.endOfTextId());
        assertEquals(Map.of("<|endoftext|>", 50256), gpt2.specialTokens());
        assertEquals("Ġthe", gpt2.bpe().token(262));
    }

    @Test
    void encodingsEqualTheJavaScriptReference() {
        assertFixture("gpt2-encode.json", 249);
    }

    @Test
    void encodingsEqualThePythonReferenceWhereJavaScriptDiffers() {
        assertFixture("gpt2-encode-python.json", 11);
    }

    private void assertFixture(String name, int expectedCases) {
        List<Map<String, Object>> cases = Fixtures.cases(name);
        assertEquals(expectedCases, cases.size(), name + " cases");
        for (Map<String, Object> c : cases) {
            String text = (String) c.get("text");
            int[] expected = Fixtures.ints(c.get("ids"));
            int[] actual = gpt2.encode(text);
            assertEquals(Arrays.toString(expected), Arrays.toString(actual), "encode " + Fixtures.show(text));
            assertEquals(text, gpt2.decode(actual), "decode " + Fixtures.show(text));
        }
    }

    @Test
    void preTokenizerMatchesGpt2sPattern() {
        assertEquals(List.of("a", "  ", " b"), Gpt2PreTokenizer.split("a   b"));
        assertEquals(List.of("x", "   "), Gpt2PreTokenizer.split("x   "));
        assertEquals(List.of("I", "'m", " they", "'ll", " I", "'", "M"), Gpt2PreTokenizer.split("I'm they'll I'M"));
        assertEquals(List.of("\n\n\n"), Gpt2PreTokenizer.split("\n\n\n"));
        assertEquals(List.of("a", "\n\n", " b"), Gpt2PreTokenizer.split("a\n\n b"));
        assertEquals(List.of(" 123", " ½", "!!!"), Gpt2PreTokenizer.split(" 123 ½!!!"));
        // U+0085 is whitespace and U+FEFF is not, as in Python's regex (JavaScript's \s says the opposite)
        assertEquals(List.of("a", "\u0085", "b"), Gpt2PreTokenizer.split("a\u0085b"));
        assertEquals(List.of("a", "\ufeff", "b"), Gpt2PreTokenizer.split("a\ufeffb"));
    }

    @Test
    void endOfTextIsTextByDefaultAndSpecialWhenAllowed() {
        assertArrayEquals(new int[] {27, 91, 437, 1659, 5239, 91, 29}, gpt2.encode("<|endoftext|>"));
        assertArrayEquals(new int[] {50256}, gpt2.encode("<|endoftext|>", true));
        assertArrayEquals(new int[] {15496, 50256, 10603}, gpt2.encode("Hello<|endoftext|>World", true));
        // the text on either side is encoded as separate strings: the space before the token stays alone
        assertArrayEquals(new int[] {64, 220, 50256, 50256, 275}, gpt2.encode("a <|endoftext|><|endoftext|> b", true));
        assertArrayEquals(gpt2.encode("a <|endoftext"), gpt2.encode("a <|endoftext", true));
        assertEquals("x<|endoftext|>y", gpt2.decode(new int[] {87, 50256, 88}));
    }

    @Test
    void decodeOfEncodeIsIdentityOnRandomUnicode() {
        Random random = new Random(20240601);
        for (int trial = 0; trial < 3000; trial++) {
            String text = RandomText.validString(random, 1 + random.nextInt(40));
            int[] ids = gpt2.encode(text);
            assertEquals(Fixtures.show(text), Fixtures.show(gpt2.decode(ids)), "ids " + Arrays.toString(ids));
            assertEquals(Fixtures.show(text), Fixtures.show(gpt2.decode(gpt2.encode(text, true))));
        }
    }

    @Test
    void decodeReplacesInvalidUtf8AndRejectsBadIds() {
        int e2 = gpt2.bpe().id(String.valueOf(ByteLevel.charOf(0xE2))).getAsInt();
        assertEquals("\uFFFD", gpt2.decode(new int[] {e2}));
        assertArrayEquals(new byte[] {(byte) 0xE2}, gpt2.decodeBytes(new int[] {e2}));
        assertEquals("", gpt2.decode(new int[0]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> gpt2.decode(new int[] {50257}));
        assertEquals("token id must be in [0, 50257), got 50257", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> gpt2.decode(new int[] {-1}));
    }

    @Test
    void loneSurrogatesEncodeAsReplacementCharacter() {
        assertEquals("a\uFFFDb", gpt2.decode(gpt2.encode("a\uD800b")));
        assertEquals(gpt2.decode(gpt2.encode("\uFFFD")), gpt2.decode(gpt2.encode("\uDFFF")));
    }

    /** tinyshakespeare is GPT-2's usual first corpus: 338,025 tokens (nanoGPT's 301,966 + 36,059). */
    @Test
    void tinyShakespeareEncodesFastAndRoundTrips() throws IOException {
        Path corpus = TinyShakespeare.find();
        Assumptions.assumeTrue(corpus != null, "tinyshakespeare.txt not found; " + TinyShakespeare.HINT);
        String text = Files.readString(corpus);
        long start = System.nanoTime();
        int[] ids = gpt2.encode(text);
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("GPT-2 encode of tinyshakespeare (%,d chars): %,d tokens in %.2f s%n", text.length(),
                ids.length, seconds);
        assertEquals(338_025, ids.length);
        assertEquals(text, gpt2.decode(ids));
        assertTrue(seconds < 30, "encoding took " + seconds + " s; expected a few seconds at most");
    }
}
