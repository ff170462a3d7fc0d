package ai.fulgur.inference.kvcache;

/**
 * The 128-bit content hash of a full block chained with the hash of everything before it, so equal hashes mean (up to
 * a collision) an equal token prefix. The prefix cache still compares token ids on a hit: a collision never shares
 * wrong keys and values.
 *
 * @param high the first 64 bits
 * @param low  the last 64 bits
 */
public record BlockHash(long high, long low) {

    @Override
    public String toString() {
        return String.format("%016x%016x", high, low);
    }
}
