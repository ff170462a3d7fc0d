package ai.fulgur.datasets.shard;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * One token shard ({@link ShardHeader} format), memory-mapped read-only. The mapping is a {@link MemorySegment}
 * addressed by {@code long}, so shards larger than 2 GB work; the operating system pages tokens in on demand and
 * nothing is copied onto the Java heap. Reading is thread-safe; {@link #close()} unmaps the file, after which any
 * read fails with {@link IllegalStateException}.
 */
public final class TokenShard implements TokenSource, AutoCloseable {

    private static final ValueLayout.OfShort UINT16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt UINT32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path file;
    private final ShardHeader header;
    private final Arena arena;
    private final MemorySegment tokens; // the file after the header

    private TokenShard(Path file, ShardHeader header, Arena arena, MemorySegment tokens) {
        this.file = file;
        this.header = header;
        this.arena = arena;
        this.tokens = tokens;
    }

    /**
     * Maps a shard and checks its header.
     *
     * @throws java.nio.file.NoSuchFileException naming the file if it does not exist
     * @throws ShardFormatException naming the file if it is not a shard (wrong magic), has an unsupported version or
     *     token type, or is truncated (expected N bytes, got M)
     */
    public static TokenShard open(Path file) throws IOException {
        Arena arena = Arena.ofShared(); // shared: DJL's prefetching reads from several threads
        boolean opened = false;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment all = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            ShardHeader header = ShardHeader.read(file, all);
            TokenShard shard = new TokenShard(file, header, arena, all.asSlice(ShardHeader.BYTES));
            opened = true;
            return shard;
        } finally {
            if (!opened) {
                arena.close();
            }
        }
    }

    /** @return the number of tokens in the shard */
    @Override
    public long size() {
        return header.tokenCount();
    }

    @Override
    public int get(long index) {
        Objects.checkIndex(index, header.tokenCount());
        return header.dtype() == TokenDType.UINT16
                ? Short.toUnsignedInt(tokens.getAtIndex(UINT16, index))
                : tokens.getAtIndex(UINT32, index);
    }

    @Override
    public void read(long from, int[] dst, int offset, int length) {
        Objects.checkFromIndexSize(from, length, header.tokenCount());
        Objects.checkFromIndexSize(offset, length, dst.length);
        if (header.dtype() == TokenDType.UINT32) {
            MemorySegment.copy(tokens, UINT32, from * 4, dst, offset, length);
        } else {
            for (int i = 0; i < length; i++) {
                dst[offset + i] = Short.toUnsignedInt(tokens.getAtIndex(UINT16, from + i));
            }
        }
    }

    /** @return the header: token type, count and vocabulary size */
    public ShardHeader header() {
        return header;
    }

    /** @return the vocabulary size recorded by the writer */
    public int vocabSize() {
        return header.vocabSize();
    }

    /** @return the shard's path */
    public Path file() {
        return file;
    }

    /** Unmaps the file. Reads after this throw {@link IllegalStateException}. */
    @Override
    public void close() {
        arena.close();
    }

    @Override
    public String toString() {
        return "TokenShard[" + file + ", " + header.tokenCount() + " " + header.dtype() + " tokens]";
    }
}
