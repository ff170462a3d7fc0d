package ai.fulgur.inference.kvcache;

/**
 * One physical block of a pool: its id (the index of its keys and values in the pool's memory), how many block tables
 * reference it, and, while it is in the prefix cache, its chained hash, its token ids and its registration serial.
 * The serial identifies one registration: a cached child records its parent's serial, so a prefix-cache hit is only
 * taken under the very parent block the lookup already matched (a hash collision on the prefix cannot chain).
 * Only {@link BlockPool} changes a block.
 */
public final class KvBlock {
    private final int id;
    private int refCount;
    private BlockHash hash;
    private int[] tokens;
    private long serial;
    private long parentSerial;

    KvBlock(int id) {
        this.id = id;
    }

    /** The block's index in its pool. */
    public int id() {
        return id;
    }

    /** How many block tables reference it; 0 means free or cached-evictable. */
    public int refCount() {
        return refCount;
    }

    /** Its prefix hash while it is in the prefix cache, else null. */
    public BlockHash hash() {
        return hash;
    }

    /** Whether it is in the prefix cache. */
    public boolean isCached() {
        return hash != null;
    }

    /** The registration serial while cached (positive), else 0. */
    public long serial() {
        return serial;
    }

    /** The serial of the parent block at registration (0 for a first block). */
    long parentSerial() {
        return parentSerial;
    }

    /** The token ids it was cached with (a copy is kept by the pool; do not modify). */
    int[] tokens() {
        return tokens;
    }

    void setRefCount(int refCount) {
        this.refCount = refCount;
    }

    void cache(BlockHash hash, int[] tokens, long serial, long parentSerial) {
        this.hash = hash;
        this.tokens = tokens;
        this.serial = serial;
        this.parentSerial = parentSerial;
    }

    void uncache() {
        cache(null, null, 0, 0);
    }

    @Override
    public String toString() {
        return "KvBlock[" + id + ", ref " + refCount + (hash == null ? "" : ", cached") + "]";
    }
}
