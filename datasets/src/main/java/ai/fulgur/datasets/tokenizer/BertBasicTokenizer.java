package ai.fulgur.datasets.tokenizer;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * BERT's BasicTokenizer ({@code tokenization.py} of google-research/bert): the word splitting that runs before
 * WordPiece.
 * <ol>
 *   <li>Clean: drop U+0000, U+FFFD and control characters (every category C*, so also format characters such as
 *       ZWJ and the soft hyphen, but not tab, newline, carriage return); turn whitespace (space, tab, newline,
 *       CR, category Zs) into a space.</li>
 *   <li>Surround each CJK ideograph (BERT's eight blocks: U+4E00-9FFF, U+3400-4DBF, ..., U+F900-FAFF) with spaces.
 *       Kana and Hangul are not in them and stay attached.</li>
 *   <li>Split on whitespace (Python's {@code str.split()}: also U+2028 and U+2029).</li>
 *   <li>If lower-casing: lower-case each token ({@link Locale#ROOT}, final sigma included), then strip accents: NFD
 *       and remove category Mn. (NFD also decomposes Hangul syllables into jamo, as in BERT.)</li>
 *   <li>Split off punctuation, one token per character: ASCII 33-47, 58-64, 91-96, 123-126 (so {@code $ + < = > ^ `
 *       | ~} count although Unicode calls them symbols) plus Unicode categories P*.</li>
 * </ol>
 * There is no NFKC (full-width letters stay full-width) and no protection of special tokens: {@code "[CLS]"} in text
 * becomes {@code "[", "cls", "]"}, as in the original. Thread-safe.
 */
public final class BertBasicTokenizer {

    private final boolean lowerCase;

    /** @param lowerCase whether to lower-case and strip accents (true for uncased vocabularies) */
    public BertBasicTokenizer(boolean lowerCase) {
        this.lowerCase = lowerCase;
    }

    /** @return the words and punctuation marks of {@code text}, in order */
    public List<String> tokenize(String text) {
        String cleaned = spaceOutCjk(clean(text));
        List<String> out = new ArrayList<>();
        for (String token : splitOnWhitespace(cleaned)) {
            if (lowerCase) {
                token = stripAccents(token.toLowerCase(Locale.ROOT));
            }
            splitOnPunctuation(token, out);
        }
        return out;
    }

    /** Step 1: drop NUL, U+FFFD and controls; map whitespace to a space. */
    static String clean(String text) {
        StringBuilder out = new StringBuilder(text.length());
        text.codePoints().forEach(cp -> {
            if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
                return;
            }
            out.appendCodePoint(isWhitespace(cp) ? ' ' : cp);
        });
        return out.toString();
    }

    private static String spaceOutCjk(String text) {
        StringBuilder out = new StringBuilder(text.length() + 16);
        text.codePoints().forEach(cp -> {
            if (isCjkIdeograph(cp)) {
                out.append(' ').appendCodePoint(cp).append(' ');
            } else {
                out.appendCodePoint(cp);
            }
        });
        return out.toString();
    }

    /** Python's {@code str.split()} with no argument: runs of whitespace separate, empty tokens vanish. */
    private static List<String> splitOnWhitespace(String text) {
        List<String> tokens = new ArrayList<>();
        int start = -1;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int width = Character.charCount(cp);
            if (isPythonSpace(cp)) {
                if (start >= 0) {
                    tokens.add(text.substring(start, i));
                    start = -1;
                }
            } else if (start < 0) {
                start = i;
            }
            i += width;
        }
        if (start >= 0) {
            tokens.add(text.substring(start));
        }
        return tokens;
    }

    /** NFD, then drop non-spacing marks (category Mn). */
    static String stripAccents(String token) {
        String decomposed = Normalizer.normalize(token, Normalizer.Form.NFD);
        StringBuilder out = new StringBuilder(decomposed.length());
        decomposed.codePoints().forEach(cp -> {
            if (Character.getType(cp) != Character.NON_SPACING_MARK) {
                out.appendCodePoint(cp);
            }
        });
        return out.toString();
    }

    private static void splitOnPunctuation(String token, List<String> out) {
        int start = -1; // start of the current run of non-punctuation, or -1
        for (int i = 0; i < token.length(); ) {
            int cp = token.codePointAt(i);
            int width = Character.charCount(cp);
            if (isPunctuation(cp)) {
                if (start >= 0) {
                    out.add(token.substring(start, i));
                    start = -1;
                }
                out.add(token.substring(i, i + width));
            } else if (start < 0) {
                start = i;
            }
            i += width;
        }
        if (start >= 0) {
            out.add(token.substring(start));
        }
    }

    /** BERT's {@code _is_whitespace}: space, tab, newline, CR, or category Zs. */
    static boolean isWhitespace(int cp) {
        return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || Character.getType(cp) == Character.SPACE_SEPARATOR;
    }

    /** BERT's {@code _is_control}: any category C* (Cc, Cf, Cn, Co, Cs) except tab, newline and CR. */
    static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        return switch (Character.getType(cp)) {
            case Character.CONTROL, Character.FORMAT, Character.UNASSIGNED, Character.PRIVATE_USE,
                 Character.SURROGATE -> true;
            default -> false;
        };
    }

    /** BERT's {@code _is_punctuation}: ASCII 33-47, 58-64, 91-96, 123-126, or category P*. */
    static boolean isPunctuation(int cp) {
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
            return true;
        }
        return switch (Character.getType(cp)) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                 Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                 Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    /** BERT's {@code _is_chinese_char}: the CJK Unified Ideographs blocks and their extensions A to E, plus the
     * compatibility ideographs. */
    static boolean isCjkIdeograph(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F)
                || (cp >= 0x2B820 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF)
                || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }

    /** Python's {@code str.isspace()}: bidirectional class WS, B or S, or category Zs. */
    static boolean isPythonSpace(int cp) {
        byte bidi = Character.getDirectionality(cp);
        return bidi == Character.DIRECTIONALITY_WHITESPACE || bidi == Character.DIRECTIONALITY_PARAGRAPH_SEPARATOR
                || bidi == Character.DIRECTIONALITY_SEGMENT_SEPARATOR
                || Character.getType(cp) == Character.SPACE_SEPARATOR;
    }
}
