package ai.fulgur.inference.server;

import java.util.List;

/**
 * What part of one completion's growing text may be streamed now, so that the streamed pieces always concatenate to
 * the final (non-streamed) text. Two things can still change the tail of an unfinished text: a stop string that is
 * only partly generated (the engine will cut the text before it), and a character whose UTF-8 bytes are split across
 * tokens (decoded as U+FFFD until the rest arrives). So an unfinished text is held back by the longest stop string
 * less one character and by any trailing U+FFFD; a finished text is sent whole.
 */
final class StreamedText {
    private final int holdBack;
    private String sent = "";
    private int sentTokens;

    /** @param stop the request's stop strings */
    StreamedText(List<String> stop) {
        int longest = 0;
        for (String s : stop) {
            longest = Math.max(longest, s.length());
        }
        this.holdBack = Math.max(0, longest - 1);
    }

    /**
     * The new piece of text to send given the engine's current text, and records it as sent; "" when nothing new is
     * safe to send.
     */
    String next(String text, boolean finished) {
        int end = text.length();
        if (!finished) {
            end = Math.max(0, end - holdBack);
            while (end > 0 && text.charAt(end - 1) == '\uFFFD') {
                end--;
            }
        }
        if (end <= sent.length()) {
            return "";
        }
        // The sent text is a prefix of every later text (that is what the hold-back is for), so the new piece is
        // the rest.
        String piece = text.substring(sent.length(), end);
        sent = text.substring(0, end);
        return piece;
    }

    /** Tokens whose log-probabilities were already sent. */
    int sentTokens() {
        return sentTokens;
    }

    void sentTokens(int n) {
        sentTokens = n;
    }

    /** The text sent so far. */
    String sent() {
        return sent;
    }
}
