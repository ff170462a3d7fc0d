package ai.fulgur.datasets.shard;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads a UTF-8 text file in pieces of about {@code chunkChars} characters, so that a file far larger than memory
 * can be tokenized piece by piece with the same result as tokenizing it whole.
 *
 * <p>A piece ends only just before a newline that is followed by a non-whitespace character ({@code "x \nY"} is
 * cut as {@code "x "} and {@code "\nY"}). For GPT-2 that newline is a pre-token of its own whatever precedes it
 * (the pattern's {@code \s+(?!\S)} backtracks off it, then {@code \s+} takes it alone), and the whitespace before it
 * forms the same piece whether the text ends there or not; no other alternative of the pattern crosses it. For
 * WordPiece it is a word boundary. So encoding the pieces one by one and concatenating equals encoding the whole
 * text, CRLF line ends included. A piece ends at the first such newline from {@code chunkChars} on (or the last
 * one before); without one, it grows until one comes or the file ends.
 */
final class TextChunks implements AutoCloseable {

    private final Path file;
    private final Reader reader;
    private final CountingInputStream bytes;
    private final int chunkChars;
    private final StringBuilder pending = new StringBuilder();
    private final char[] buffer = new char[8192];
    private boolean endOfFile;

    /**
     * @param file a UTF-8 text file
     * @param chunkChars the piece size to aim for, at least 1
     */
    TextChunks(Path file, int chunkChars) throws IOException {
        this.file = file;
        this.chunkChars = chunkChars;
        this.bytes = new CountingInputStream(Files.newInputStream(file));
        this.reader = new InputStreamReader(bytes, StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT));
    }

    /** @return the next piece, never empty, or null at the end of the file */
    String next() throws IOException {
        int target = chunkChars;
        while (true) {
            fill(target);
            if (endOfFile) {
                if (pending.isEmpty()) {
                    return null;
                }
                String rest = pending.toString();
                pending.setLength(0);
                return rest;
            }
            int cut = safeCut();
            if (cut > 0) {
                String piece = pending.substring(0, cut);
                pending.delete(0, cut);
                return piece;
            }
            target = pending.length() * 2; // no safe cut yet: read further
        }
    }

    /** @return the bytes of the file read so far (slightly ahead of the pieces returned, by the decoder's buffer) */
    long bytesRead() {
        return bytes.count;
    }

    private void fill(int target) throws IOException {
        while (!endOfFile && pending.length() < target) {
            int n;
            try {
                n = reader.read(buffer);
            } catch (CharacterCodingException e) {
                throw new IOException(file + " is not valid UTF-8 (bad bytes before byte " + bytes.count
                        + "); expected UTF-8 text", e);
            }
            if (n < 0) {
                endOfFile = true;
            } else {
                pending.append(buffer, 0, n);
            }
        }
    }

    /**
     * @return the first cut at or after {@code chunkChars}, else the last one before, else 0; a cut is a position p
     *     with pending[p] == '\n' and pending[p+1] not white space
     */
    private int safeCut() {
        int n = pending.length();
        for (int p = Math.max(1, chunkChars); p < n - 1; p++) {
            if (isCut(p)) {
                return p;
            }
        }
        for (int p = Math.min(chunkChars, n - 1) - 1; p >= 1; p--) {
            if (isCut(p)) {
                return p;
            }
        }
        return 0;
    }

    private boolean isCut(int p) {
        return pending.charAt(p) == '\n' && !isSpace(pending.charAt(p + 1));
    }

    /**
     * A superset of Unicode White_Space (GPT-2's {@code \s}): it adds U+001C..U+001F, which only forgoes a few cuts
     * (a newline before one of those stays inside a piece).
     */
    private static boolean isSpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }

    @Override
    public void close() throws IOException {
        reader.close();
    }

    /** Counts the bytes read from the file, for progress. */
    private static final class CountingInputStream extends FilterInputStream {
        long count;

        CountingInputStream(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                count++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                count += n;
            }
            return n;
        }
    }
}
