package ai.fulgur.datasets.shard;

import java.util.Objects;

/**
 * A read-only sequence of token ids addressed by a {@code long} position: one shard, several shards seen as one
 * corpus, or an array in memory. The datasets read their windows through this. Implementations are safe to read
 * from several threads at once.
 */
public interface TokenSource {

    /** @return the number of tokens */
    long size();

    /**
     * @param index a position in {@code [0, size())}
     * @return the token there
     * @throws IndexOutOfBoundsException naming the index and the size
     */
    int get(long index);

    /**
     * Copies {@code length} tokens starting at {@code from} into {@code dst[offset .. offset + length)}.
     *
     * @throws IndexOutOfBoundsException if {@code [from, from + length)} is not inside {@code [0, size())} or the
     *     destination range is not inside {@code dst}
     */
    void read(long from, int[] dst, int offset, int length);

    /**
     * Wraps an array without copying it; the caller must not change it afterwards.
     *
     * @param tokens the tokens
     * @return the array as a source
     */
    static TokenSource of(int[] tokens) {
        Objects.requireNonNull(tokens, "tokens");
        return new TokenSource() {
            @Override
            public long size() {
                return tokens.length;
            }

            @Override
            public int get(long index) {
                Objects.checkIndex(index, tokens.length);
                return tokens[(int) index];
            }

            @Override
            public void read(long from, int[] dst, int offset, int length) {
                Objects.checkFromIndexSize(from, length, tokens.length);
                System.arraycopy(tokens, (int) from, dst, offset, length);
            }

            @Override
            public String toString() {
                return "TokenSource.of(int[" + tokens.length + "])";
            }
        };
    }
}
