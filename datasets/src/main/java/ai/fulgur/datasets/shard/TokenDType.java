package ai.fulgur.datasets.shard;

/**
 * How a shard stores each token: unsigned little-endian integers of 2 or 4 bytes. The narrowest type that holds
 * every id of the vocabulary is chosen, so GPT-2's 50,257 tokens take 2 bytes each.
 */
public enum TokenDType {
    /** Unsigned 16-bit, for vocabularies of at most 65,536 tokens. */
    UINT16(2, 1),
    /** Unsigned 32-bit, for larger vocabularies. */
    UINT32(4, 2);

    private final int bytes;
    private final int code;

    TokenDType(int bytes, int code) {
        this.bytes = bytes;
        this.code = code;
    }

    /** @return the bytes per token, 2 or 4 */
    public int bytes() {
        return bytes;
    }

    /** @return the number stored in a shard header for this type (1 for UINT16, 2 for UINT32) */
    public int code() {
        return code;
    }

    /**
     * @param vocabSize the number of token ids, at least 1
     * @return UINT16 when every id fits in 16 bits ({@code vocabSize <= 65536}), else UINT32
     */
    public static TokenDType forVocabSize(int vocabSize) {
        if (vocabSize < 1) {
            throw new IllegalArgumentException("vocabSize must be at least 1, got " + vocabSize);
        }
        return vocabSize <= 1 << 16 ? UINT16 : UINT32;
    }

    /**
     * @param code a header's dtype code
     * @return its type, or null when no type has that code
     */
    static TokenDType ofCode(int code) {
        for (TokenDType type : values()) {
            if (type.code == code) {
                return type;
            }
        }
        return null;
    }
}
