package ai.fulgur.inference.server;

import ai.fulgur.datasets.tokenizer.Tokenizer;
import java.util.Map;

/** A test tokenizer: one token per ASCII character (id = code point), id 0 is the end-of-text token. */
final class AsciiTokenizer implements Tokenizer {
    @Override
    public int[] encode(String text) {
        int[] ids = new int[text.length()];
        for (int i = 0; i < ids.length; i++) {
            char c = text.charAt(i);
            if (c >= 128) {
                throw new IllegalArgumentException("AsciiTokenizer: not ASCII: " + c);
            }
            ids[i] = c;
        }
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        StringBuilder s = new StringBuilder();
        for (int id : ids) {
            if (id < 0 || id >= 128) {
                throw new IllegalArgumentException("token id out of range [0, 128): " + id);
            }
            s.append((char) id);
        }
        return s.toString();
    }

    @Override
    public int vocabSize() {
        return 128;
    }

    @Override
    public Map<String, Integer> specialTokens() {
        return Map.of("<|endoftext|>", 0);
    }
}
