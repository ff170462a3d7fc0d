package ai.fulgur.inference.kvcache;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Hashes one full block of token ids chained with its parent's hash (null for the first block), so a block's hash
 * stands for the whole prefix up to and including it. The default is {@link #SHA_256} truncated to 128 bits; tests
 * pass a deliberately weak hasher to prove that collisions are caught by comparing token ids.
 */
@FunctionalInterface
public interface PrefixHasher {

    /** SHA-256 over (parent hash, block size, token ids), truncated to 128 bits. */
    PrefixHasher SHA_256 = (parent, tokens) -> {
        ByteBuffer bytes = ByteBuffer.allocate(16 + 4 + 4 * tokens.length);
        // The root gets a fixed, non-hash marker so a first block never equals a child of some block.
        bytes.putLong(parent == null ? 0x6675_6c67_7572_0000L : parent.high());
        bytes.putLong(parent == null ? 0L : parent.low());
        bytes.putInt(parent == null ? -1 : tokens.length);
        for (int t : tokens) {
            bytes.putInt(t);
        }
        try {
            ByteBuffer digest = ByteBuffer.wrap(MessageDigest.getInstance("SHA-256").digest(bytes.array()));
            return new BlockHash(digest.getLong(), digest.getLong());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java platform", e);
        }
    };

    /**
     * The hash of the prefix ending with this block.
     *
     * @param parent the previous block's hash, or null for the sequence's first block
     * @param tokens the block's token ids (a full block)
     */
    BlockHash hash(BlockHash parent, int[] tokens);
}
