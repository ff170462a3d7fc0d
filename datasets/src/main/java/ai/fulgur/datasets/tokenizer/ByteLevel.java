package ai.fulgur.datasets.tokenizer;

import java.util.Arrays;

/**
 * GPT-2's byte level: the reversible map from the 256 byte values to 256 printable characters
 * ({@code bytes_to_unicode} in GPT-2's {@code encoder.py}), under which every BPE token is a string, plus the
 * UTF-8 conversions the tokenizer needs on either side of it.
 *
 * <p>The map keeps the 188 bytes that are printable in Latin-1 ({@code !}..{@code ~}, {@code ¡}..{@code ¬},
 * {@code ®}..{@code ÿ}) as themselves and sends the other 68 (controls, space, NBSP, soft hyphen) to U+0100 onwards
 * in byte order, so that space becomes {@code Ġ} (U+0120) and newline {@code Ċ} (U+010A).
 */
final class ByteLevel {

    /** byte value (0..255) to its character. */
    private static final char[] BYTE_TO_CHAR = new char[256];
    /** character (0..323) to its byte value, or -1. */
    private static final int[] CHAR_TO_BYTE = new int[256 + 68];
    /**
     * Byte values in GPT-2's order: the printable ones ascending, then the rest ascending. Token ids 0..255 of GPT-2's
     * encoder.json follow this order, and {@link BpeTrainer} keeps it.
     */
    static final int[] BYTES_IN_GPT2_ORDER = new int[256];

    static {
        Arrays.fill(CHAR_TO_BYTE, -1);
        int next = 0;
        for (int b = 0; b < 256; b++) {
            if (isPrintable(b)) {
                BYTE_TO_CHAR[b] = (char) b;
                BYTES_IN_GPT2_ORDER[next++] = b;
            }
        }
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            if (!isPrintable(b)) {
                BYTE_TO_CHAR[b] = (char) (256 + extra++);
                BYTES_IN_GPT2_ORDER[next++] = b;
            }
        }
        for (int b = 0; b < 256; b++) {
            CHAR_TO_BYTE[BYTE_TO_CHAR[b]] = b;
        }
    }

    private ByteLevel() {
    }

    private static boolean isPrintable(int b) {
        return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    }

    /** @return the character standing for byte {@code b} (0..255) */
    static char charOf(int b) {
        return BYTE_TO_CHAR[b & 0xFF];
    }

    /** @return the byte value (0..255) that character {@code c} stands for, or -1 if it stands for none */
    static int byteOf(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }

    /** @return the byte-level string of {@code bytes}, one character per byte */
    static String toChars(byte[] bytes) {
        char[] chars = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            chars[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        }
        return new String(chars);
    }

    /**
     * @return the bytes a byte-level string stands for, or null if a character is outside the byte-level alphabet
     */
    static byte[] toBytes(String chars) {
        byte[] bytes = new byte[chars.length()];
        for (int i = 0; i < bytes.length; i++) {
            int b = byteOf(chars.charAt(i));
            if (b < 0) {
                return null;
            }
            bytes[i] = (byte) b;
        }
        return bytes;
    }

    /**
     * UTF-8 encodes {@code s}. A lone surrogate (not valid UTF-16) becomes U+FFFD, as the WHATWG TextEncoder does;
     * Python's encoder.py would raise instead. ({@code String.getBytes} would write '?'.)
     */
    static byte[] utf8(CharSequence s, int from, int to) {
        byte[] out = new byte[(to - from) * 3]; // 3 bytes per char at most; a surrogate pair (2 chars) needs 4
        int n = 0;
        for (int i = from; i < to; i++) {
            int c = s.charAt(i);
            if (c < 0x80) {
                out[n++] = (byte) c;
                continue;
            }
            if (Character.isHighSurrogate((char) c) && i + 1 < to && Character.isLowSurrogate(s.charAt(i + 1))) {
                int cp = Character.toCodePoint((char) c, s.charAt(++i));
                out[n++] = (byte) (0xF0 | (cp >>> 18));
                out[n++] = (byte) (0x80 | ((cp >>> 12) & 0x3F));
                out[n++] = (byte) (0x80 | ((cp >>> 6) & 0x3F));
                out[n++] = (byte) (0x80 | (cp & 0x3F));
                continue;
            }
            if (Character.isSurrogate((char) c)) {
                c = 0xFFFD;
            }
            if (c < 0x800) {
                out[n++] = (byte) (0xC0 | (c >>> 6));
            } else {
                out[n++] = (byte) (0xE0 | (c >>> 12));
                out[n++] = (byte) (0x80 | ((c >>> 6) & 0x3F));
            }
            out[n++] = (byte) (0x80 | (c & 0x3F));
        }
        return n == out.length ? out : Arrays.copyOf(out, n);
    }

    /**
     * Decodes UTF-8, replacing each maximal ill-formed subsequence with one U+FFFD, the Unicode-recommended
     * practice that Python's {@code bytes.decode("utf-8", errors="replace")} and the WHATWG decoder follow.
     * The JDK's decoder differs on some inputs (it reads {@code ED A0 80}, an encoded surrogate, as one error where
     * Python gives three), hence this loop.
     *
     * @param bytes UTF-8 bytes, {@code [0, length)} used
     */
    static String decodeUtf8(byte[] bytes, int length) {
        StringBuilder out = new StringBuilder(length);
        int i = 0;
        while (i < length) {
            int b0 = bytes[i] & 0xFF;
            if (b0 < 0x80) {
                out.append((char) b0);
                i++;
                continue;
            }
            int need; // continuation bytes after the lead byte
            int lo = 0x80; // allowed range of the first continuation byte (Unicode Table 3-7)
            int hi = 0xBF;
            int cp;
            if (b0 >= 0xC2 && b0 <= 0xDF) {
                need = 1;
                cp = b0 & 0x1F;
            } else if (b0 >= 0xE0 && b0 <= 0xEF) {
                need = 2;
                cp = b0 & 0x0F;
                if (b0 == 0xE0) {
                    lo = 0xA0; // no overlong 3-byte forms
                } else if (b0 == 0xED) {
                    hi = 0x9F; // no surrogates
                }
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                need = 3;
                cp = b0 & 0x07;
                if (b0 == 0xF0) {
                    lo = 0x90; // no overlong 4-byte forms
                } else if (b0 == 0xF4) {
                    hi = 0x8F; // nothing above U+10FFFF
                }
            } else {
                out.append('\uFFFD'); // stray continuation byte, C0, C1 or F5..FF
                i++;
                continue;
            }
            int j = i + 1;
            int got = 0;
            while (got < need && j < length) {
                int b = bytes[j] & 0xFF;
                if (b < (got == 0 ? lo : 0x80) || b > (got == 0 ? hi : 0xBF)) {
                    break;
                }
                cp = (cp << 6) | (b & 0x3F);
                got++;
                j++;
            }
            if (got == need) {
                out.appendCodePoint(cp);
            } else {
                out.append('\uFFFD'); // the lead byte and the valid continuation bytes so far are one error
            }
            i = j;
        }
        return out.toString();
    }
}
