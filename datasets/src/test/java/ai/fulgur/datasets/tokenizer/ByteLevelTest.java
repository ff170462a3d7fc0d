package ai.fulgur.datasets.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ByteLevelTest {

    @Test
    void byteMapIsABijectionOntoPrintableCharacters() {
        Set<Character> chars = new HashSet<>();
        for (int b = 0; b < 256; b++) {
            char c = ByteLevel.charOf(b);
            chars.add(c);
            assertEquals(b, ByteLevel.byteOf(c), "byte " + b);
            assertEquals(false, Character.isWhitespace(c) || Character.isISOControl(c), "byte " + b + " maps to " + c);
        }
        assertEquals(256, chars.size());
        assertEquals('Ġ', ByteLevel.charOf(' '));
        assertEquals('Ċ', ByteLevel.charOf('\n'));
        assertEquals('A', ByteLevel.charOf('A'));
        assertEquals(-1, ByteLevel.byteOf('\u0144'));
        // GPT-2's ids 0..255: '!' first, then the printable ones, then byte 0 at 188
        assertEquals('!', ByteLevel.BYTES_IN_GPT2_ORDER[0]);
        assertEquals(0, ByteLevel.BYTES_IN_GPT2_ORDER[188]);
    }

    @Test
    void utf8MatchesTheJdkOnValidStringsAndReplacesLoneSurrogates() {
        Random random = new Random(7);
        for (int trial = 0; trial < 2000; trial++) {
            String s = RandomText.validString(random, 1 + random.nextInt(20));
            assertArrayEquals(s.getBytes(StandardCharsets.UTF_8), ByteLevel.utf8(s, 0, s.length()), Fixtures.show(s));
        }
        assertArrayEquals(new byte[] {'a', (byte) 0xEF, (byte) 0xBF, (byte) 0xBD, 'b'},
                ByteLevel.utf8("a\uD800b", 0, 3));
        assertArrayEquals(new byte[] {(byte) 0xEF, (byte) 0xBF, (byte) 0xBD}, ByteLevel.utf8("\uDC00", 0, 1));
    }

    /** Expected strings are Python's {@code bytes(...).decode("utf-8", errors="replace")}. */
    @Test
    void decodeReplacesEachMaximalIllFormedSubsequenceLikePython() {
        assertDecodes("\uFFFD", 0xE2, 0x82); // truncated 3-byte sequence: one error
        assertDecodes("\uFFFD", 0xF0, 0x9F, 0x98);
        assertDecodes("\uFFFD\uFFFD", 0xC0, 0x80); // C0 is never valid
        assertDecodes("\uFFFD\uFFFD\uFFFD", 0xED, 0xA0, 0x80); // an encoded surrogate: three errors (the JDK says one)
        assertDecodes("\uFFFD\uFFFD\uFFFD\uFFFD", 0xF4, 0x90, 0x80, 0x80); // above U+10FFFF
        assertDecodes("\uFFFD", 0x80);
        assertDecodes("\uFFFD", 0xFF);
        assertDecodes("\uFFFDA", 0xE2, 0x82, 0x41);
        assertDecodes("\uFFFD\u20AC", 0xF0, 0x9F, 0x98, 0xE2, 0x82, 0xAC);
        assertDecodes("\uFFFD\uFFFD\uFFFD", 0xE0, 0x80, 0x80); // overlong
        assertDecodes("\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD", 0xF8, 0x88, 0x80, 0x80, 0x80);
        assertDecodes("\uFFFD\uFFFD\uFFFD\uFFFD", 0xF0, 0x80, 0x80, 0x80);
        assertDecodes("h\u00e9\uD83D\uDE00", 'h', 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80);
    }

    private static void assertDecodes(String expected, int... bytes) {
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) bytes[i];
        }
        assertEquals(Fixtures.show(expected), Fixtures.show(ByteLevel.decodeUtf8(b, b.length)));
    }
}
