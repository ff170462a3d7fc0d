package ai.fulgur.datasets.shard;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The fixed 32-byte header at the start of every token shard, all numbers little-endian:
 * <pre>
 *   offset  size  field
 *        0     8  magic "FLGRTOKS" (ASCII)
 *        8     4  format version, {@value #VERSION}
 *       12     4  token type code: 1 = uint16, 2 = uint32 ({@link TokenDType#code()})
 *       16     8  token count
 *       24     4  vocabulary size (every token is below it)
 *       28     4  reserved, 0
 *       32        tokens, count x (2 or 4) bytes
 * </pre>
 * The header size keeps the tokens 32-byte aligned in a mapped file.
 *
 * @param dtype how tokens are stored
 * @param tokenCount the number of tokens after the header
 * @param vocabSize the vocabulary size the tokens were checked against
 */
public record ShardHeader(TokenDType dtype, long tokenCount, int vocabSize) {

    /** The first 8 bytes of every shard. */
    public static final String MAGIC = "FLGRTOKS";
    /** The format version this code writes and reads. */
    public static final int VERSION = 1;
    /** Header size in bytes; tokens start here. */
    public static final int BYTES = 32;

    private static final byte[] MAGIC_BYTES = MAGIC.getBytes(StandardCharsets.US_ASCII);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Checks the fields. */
    public ShardHeader {
        if (tokenCount < 0) {
            throw new IllegalArgumentException("tokenCount must be at least 0, got " + tokenCount);
        }
        if (vocabSize < 1) {
            throw new IllegalArgumentException("vocabSize must be at least 1, got " + vocabSize);
        }
        if (dtype.bytes() == 2 && vocabSize > 1 << 16) {
            throw new IllegalArgumentException("uint16 tokens hold a vocabulary of at most 65536, got " + vocabSize);
        }
    }

    /** @return the file size this header promises: header plus tokens */
    public long fileBytes() {
        return BYTES + tokenCount * dtype.bytes();
    }

    /** @return the header as 32 bytes, ready to write at offset 0 */
    public ByteBuffer toBytes() {
        ByteBuffer out = ByteBuffer.allocate(BYTES).order(ByteOrder.LITTLE_ENDIAN);
        out.put(MAGIC_BYTES).putInt(VERSION).putInt(dtype.code()).putLong(tokenCount).putInt(vocabSize).putInt(0);
        return out.flip();
    }

    /**
     * Reads and checks the header of a mapped shard.
     *
     * @param file the file's path, for errors
     * @param segment the whole file
     * @throws ShardFormatException naming the file: not a shard (wrong magic), unsupported version, unknown token
     *     type, or truncated (expected N bytes, got M)
     */
    static ShardHeader read(Path file, MemorySegment segment) throws ShardFormatException {
        long size = segment.byteSize();
        byte[] magic = new byte[(int) Math.min(MAGIC_BYTES.length, size)];
        MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, 0, magic, 0, magic.length);
        if (magic.length < MAGIC_BYTES.length || !Arrays.equals(magic, MAGIC_BYTES)) {
            throw new ShardFormatException(file, "not a token shard: expected the magic bytes \"" + MAGIC
                    + "\" at offset 0, found " + describe(magic) + " (file of " + size + " bytes)");
        }
        if (size < BYTES) {
            throw new ShardFormatException(file, "truncated: expected at least the " + BYTES
                    + "-byte header, got " + size + " bytes");
        }
        int version = segment.get(INT, 8);
        if (version != VERSION) {
            throw new ShardFormatException(file, "unsupported shard format version " + version
                    + "; this reader reads version " + VERSION);
        }
        int code = segment.get(INT, 12);
        TokenDType dtype = TokenDType.ofCode(code);
        if (dtype == null) {
            throw new ShardFormatException(file, "unknown token type code " + code + "; expected "
                    + TokenDType.UINT16.code() + " (uint16) or " + TokenDType.UINT32.code() + " (uint32)");
        }
        long count = segment.get(LONG, 16);
        int vocabSize = segment.get(INT, 24);
        if (count < 0 || count > (Long.MAX_VALUE - BYTES) / dtype.bytes() || vocabSize < 1
                || (dtype == TokenDType.UINT16 && vocabSize > 1 << 16)) {
            throw new ShardFormatException(file, "corrupt header: token count " + count + ", vocabulary size "
                    + vocabSize + ", token type " + dtype);
        }
        ShardHeader header = new ShardHeader(dtype, count, vocabSize);
        if (header.fileBytes() != size) {
            throw new ShardFormatException(file, (size < header.fileBytes() ? "truncated" : "trailing bytes")
                    + ": expected " + header.fileBytes() + " bytes (" + BYTES + "-byte header + " + count
                    + " tokens x " + dtype.bytes() + " bytes), got " + size + " bytes");
        }
        return header;
    }

    private static String describe(byte[] bytes) {
        if (bytes.length == 0) {
            return "an empty file";
        }
        StringBuilder out = new StringBuilder("\"");
        for (byte b : bytes) {
            out.append(b >= 0x20 && b < 0x7f ? String.valueOf((char) b) : String.format("\\x%02x", b & 0xff));
        }
        return out.append('"').toString();
    }
}
