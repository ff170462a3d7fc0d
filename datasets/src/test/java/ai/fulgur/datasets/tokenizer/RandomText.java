package ai.fulgur.datasets.tokenizer;

import java.util.Random;

/** Seeded random Unicode text for round-trip tests: valid UTF-16 (no unpaired surrogates), biased to hard cases. */
final class RandomText {

    private static final String[] PIECES = {
        " ", "  ", "\t", "\n", "\r\n", "\n\n\n", "'s", "'ll", "'", "<|endoftext|>", "\u00a0", "\u3000", "\u200d",
        "\u0301", "\ufe0f", "\ufeff", "\u0085", "\ud83d\ude00", "\ud83d\udc68\u200d\ud83d\udc69", ",\"", "\",", "\u20ac",
    };

    private RandomText() {
    }

    /** @return a string of {@code length} code points or short pieces, never an unpaired surrogate */
    static String validString(Random random, int length) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < length; i++) {
            int kind = random.nextInt(10);
            int cp = switch (kind) {
                case 0, 1 -> 0x20 + random.nextInt(0x5F); // ASCII
                case 2 -> random.nextInt(0x80); // ASCII with controls
                case 3 -> 0x80 + random.nextInt(0x780); // 2-byte UTF-8
                case 4 -> 0x800 + random.nextInt(0xF800); // 3-byte UTF-8 (surrogates skipped below)
                case 5 -> 0x10000 + random.nextInt(0x100000); // supplementary planes
                case 6 -> 0x1F300 + random.nextInt(0x300); // emoji
                default -> -1;
            };
            if (cp < 0) {
                out.append(PIECES[random.nextInt(PIECES.length)]);
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                out.append('x');
            } else {
                out.appendCodePoint(cp);
            }
        }
        return out.toString();
    }
}
