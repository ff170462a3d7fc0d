package ai.fulgur.inference.engine;

import ai.fulgur.datasets.tokenizer.Tokenizer;
import java.util.Map;

/**
 * A test tokenizer whose token i is the two characters (a letter, a digit) "a0", "b0", …, "z0", "a1", …: decoding
 * concatenates them, so a stop string can begin inside one token and end inside another.
 */
final class TwoCharTokenizer implements Tokenizer {
    private final int vocab;

    TwoCharTokenizer(int vocab) {
        this.vocab = vocab;
    }

    static String text(int id) {
        return "" + (char) ('a' + id % 26) + (char) ('0' + id / 26);
    }

    @Override
    public int[] encode(String text) {
        int[] ids = new int[text.length() / 2];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = (text.charAt(2 * i) - 'a') + 26 * (text.charAt(2 * i + 1) - '0');
        }
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        StringBuilder s = new StringBuilder();
        for (int id : ids) {
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("token " + id + " outside [0, " + vocab + ")");
            }
            s.append(text(id));
        }
        return s.toString();
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    @Override
    public Map<String, Integer> specialTokens() {
        return Map.of();
    }
}
