package ai.fulgur.datasets.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GPT-2's pre-tokenisation: the regular expression that cuts text into pieces before BPE, so that no token spans
 * a letter/digit/symbol boundary and a word carries its leading space.
 *
 * <pre>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</pre>
 *
 * <p>Compiled with {@link Pattern#UNICODE_CHARACTER_CLASS}, so {@code \s} is Unicode White_Space, which is exactly
 * the {@code \s} of Python's {@code regex} module that GPT-2 uses (checked over all code points: it includes U+0085
 * and excludes U+FEFF; JavaScript's {@code \s} does the opposite on both). {@code \s+(?!\S)} backtracks as in
 * Python: a run of spaces before a word gives all but its last space, which then starts the word's piece
 * ({@code "a   b"} gives {@code "a", "  ", " b"}); trailing whitespace stays one piece. The contractions are
 * ASCII-apostrophe and lower-case only, as in GPT-2 ({@code "I'M"} splits as {@code "I", "'", "M"}).
 * {@code \p{L}} and {@code \p{N}} follow the JDK's Unicode version, which may differ from Python's for code points
 * assigned recently.
 */
public final class Gpt2PreTokenizer {

    /** The pattern, as in GPT-2's {@code encoder.py}. */
    public static final Pattern PATTERN = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    private Gpt2PreTokenizer() {
    }

    /** Calls {@code action} with each piece of {@code text}[from, to) in order. The pieces cover the range. */
    public static void forEachPiece(String text, int from, int to, Consumer<String> action) {
        Matcher m = PATTERN.matcher(text);
        m.region(from, to);
        while (m.find()) {
            action.accept(text.substring(m.start(), m.end()));
        }
    }

    /** @return the pieces of {@code text}, in order; they concatenate back to {@code text} */
    public static List<String> split(String text) {
        List<String> pieces = new ArrayList<>();
        forEachPiece(text, 0, text.length(), pieces::add);
        return pieces;
    }
}
