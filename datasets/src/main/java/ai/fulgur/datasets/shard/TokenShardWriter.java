package ai.fulgur.datasets.shard;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes one token shard ({@link ShardHeader} format) by streaming appends. Tokens go to a temporary file beside the
 * target; {@link #close()} fills in the header's token count and renames the temporary file onto the target
 * atomically, so a reader never sees a half-written shard and a crash leaves at most a stray {@code .tmp} file.
 * {@link #abort()} deletes the temporary file instead. Not thread-safe.
 *
 * <pre>
 *   try (TokenShardWriter out = new TokenShardWriter(Path.of("train_000000.tok"), tokenizer.vocabSize())) {
 *       out.write(tokenizer.encode(text));
 *   }
 * </pre>
 */
public final class TokenShardWriter implements AutoCloseable {

    private static final int BUFFER_BYTES = 1 << 20;

    private final Path file;
    private final Path temporary;
    private final int vocabSize;
    private final TokenDType dtype;
    private final FileChannel channel;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private long count;
    private boolean closed;

    /**
     * Opens a writer; the token type follows from the vocabulary size ({@link TokenDType#forVocabSize}).
     *
     * @param file the shard to write; an existing file there is replaced on {@link #close()}
     * @param vocabSize the vocabulary size; every token written must be in {@code [0, vocabSize)}
     * @throws IOException if the temporary file cannot be created in the target's directory
     */
    public TokenShardWriter(Path file, int vocabSize) throws IOException {
        this.file = file.toAbsolutePath();
        this.vocabSize = vocabSize;
        this.dtype = TokenDType.forVocabSize(vocabSize);
        Path directory = this.file.getParent();
        // same directory, so the final rename is atomic (one file system)
        this.temporary = Files.createTempFile(directory, this.file.getFileName() + ".", ".tmp");
        boolean opened = false;
        try {
            this.channel = FileChannel.open(temporary, StandardOpenOption.WRITE);
            opened = true;
        } finally {
            if (!opened) {
                Files.deleteIfExists(temporary);
            }
        }
        buffer.put(new ShardHeader(dtype, 0, vocabSize).toBytes()); // count filled in by close()
    }

    /**
     * Appends one token.
     *
     * @throws IllegalArgumentException naming the token and its position if it is outside {@code [0, vocabSize)};
     *     nothing is written then and the writer stays usable
     */
    public void write(int token) throws IOException {
        checkOpen();
        checkToken(token, count);
        if (buffer.remaining() < dtype.bytes()) {
            flush();
        }
        put(token);
        count++;
    }

    /** Appends all of {@code tokens}; see {@link #write(int[], int, int)}. */
    public void write(int[] tokens) throws IOException {
        write(tokens, 0, tokens.length);
    }

    /**
     * Appends {@code tokens[offset .. offset + length)}.
     *
     * @throws IllegalArgumentException naming the first token outside {@code [0, vocabSize)} and its position;
     *     nothing of the call is written then
     */
    public void write(int[] tokens, int offset, int length) throws IOException {
        checkOpen();
        java.util.Objects.checkFromIndexSize(offset, length, tokens.length);
        for (int i = 0; i < length; i++) {
            checkToken(tokens[offset + i], count + i);
        }
        for (int i = 0; i < length; i++) {
            if (buffer.remaining() < dtype.bytes()) {
                flush();
            }
            put(tokens[offset + i]);
        }
        count += length;
    }

    private void put(int token) {
        if (dtype == TokenDType.UINT16) {
            buffer.putShort((short) token);
        } else {
            buffer.putInt(token);
        }
    }

    private void checkToken(int token, long position) {
        if (token < 0 || token >= vocabSize) {
            throw new IllegalArgumentException("token " + token + " at position " + position + " of " + file
                    + " is outside the vocabulary [0, " + vocabSize + ")");
        }
    }

    private void flush() throws IOException {
        buffer.flip();
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
        buffer.clear();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("write() after close() or abort() of the writer for " + file);
        }
    }

    /** @return the number of tokens written so far */
    public long count() {
        return count;
    }

    /** @return the shard's final path (it exists once {@link #close()} returns) */
    public Path file() {
        return file;
    }

    /** @return the token type, from the vocabulary size */
    public TokenDType dtype() {
        return dtype;
    }

    /**
     * Writes the remaining tokens and the header's count, forces the data to disk and renames the temporary file
     * onto {@link #file()} atomically. Does nothing after a first close or an abort.
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        boolean done = false;
        try (channel) {
            flush();
            ByteBuffer header = new ShardHeader(dtype, count, vocabSize).toBytes();
            while (header.hasRemaining()) {
                channel.write(header, header.position());
            }
            channel.force(true);
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(temporary);
            }
        }
        try {
            Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(temporary);
            throw e;
        }
    }

    /** Discards what was written: deletes the temporary file and leaves {@link #file()} as it was. */
    public void abort() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try (channel) {
            // closed by try-with-resources
        } finally {
            Files.deleteIfExists(temporary);
        }
    }
}
