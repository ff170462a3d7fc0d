package ai.fulgur.inference.engine;

import ai.fulgur.datasets.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * The text of one completion, grown token by token, and the stop-string check on it. Tokens are decoded in runs:
 * a run whose text ends in U+FFFD is held back (with byte-level BPE a character's UTF-8 bytes may span tokens, and
 * decoding half of them gives the replacement character) until the next token completes it, at most 4 tokens (one
 * UTF-8 character), or the completion ends. So only new tokens are decoded, and the text never shows a broken
 * character that a later token repairs.
 *
 * <p>A stop string is searched in the text added plus the tail that could begin one; on a hit the text is cut before
 * the first stop string found and stays cut.
 */
final class IncrementalDetokenizer {
    private static final int MAX_HELD_TOKENS = 4;

    private final Tokenizer tokenizer;
    private final List<String> stops;
    private final int longestStop;
    private final StringBuilder text = new StringBuilder();
    private final List<Integer> held = new ArrayList<>();
    private boolean stopped;

    /** A detokenizer over {@code tokenizer} (null: no text) watching for {@code stops}. */
    IncrementalDetokenizer(Tokenizer tokenizer, List<String> stops) {
        this.tokenizer = tokenizer;
        this.stops = stops;
        this.longestStop = stops.stream().mapToInt(String::length).max().orElse(0);
    }

    /** Adds a generated token; returns whether the text now contains a stop string (it is then cut before it). */
    boolean append(int token) {
        if (tokenizer == null || stopped) {
            return stopped;
        }
        held.add(token);
        String run = decodeHeld();
        if (run.endsWith("\uFFFD") && held.size() < MAX_HELD_TOKENS) {
            return false;
        }
        return add(run);
    }

    /** Adds the held tokens' text whatever it is (the completion ended). */
    void flush() {
        if (tokenizer != null && !stopped && !held.isEmpty()) {
            add(decodeHeld());
        }
    }

    /** The text so far. */
    String text() {
        return text.toString();
    }

    private String decodeHeld() {
        return tokenizer.decode(held.stream().mapToInt(Integer::intValue).toArray());
    }

    private boolean add(String run) {
        held.clear();
        int searchFrom = Math.max(0, text.length() - longestStop + 1);
        text.append(run);
        int cut = -1;
        for (String stop : stops) {
            int at = text.indexOf(stop, searchFrom);
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
            }
        }
        if (cut >= 0) {
            text.setLength(cut);
            stopped = true;
        }
        return stopped;
    }
}
