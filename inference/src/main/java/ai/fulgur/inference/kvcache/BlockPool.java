package ai.fulgur.inference.kvcache;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A fixed set of physical blocks (the device pool, or the CPU swap pool) with reference counts and the prefix cache.
 * Every block is in exactly one state:
 * <ul>
 *   <li>free: count 0, not cached, in the free queue;</li>
 *   <li>cached-evictable: count 0, cached, in the evictable queue (LRU: least recently released first);</li>
 *   <li>referenced: count ≥ 1 (cached or not), in no queue.</li>
 * </ul>
 * {@link #allocate()} takes a free block first and evicts the least recently used cached block only when none is
 * left (eviction is lazy: a released cached block keeps its hash until its memory is needed). Asking an empty pool
 * for a block, or releasing a block with count 0, is a bug and throws; running out is the caller's expected case,
 * checked first with {@link #numFreeBlocks()}. Everything that changes blocks is package-private: outside this package
 * a pool is read-only, and only {@link BlockManager} changes it.
 */
public final class BlockPool {
    private final String name;
    private final KvBlock[] blocks;
    private final FreeBlockQueue free = new FreeBlockQueue();
    private final FreeBlockQueue evictable = new FreeBlockQueue();
    private final Map<BlockHash, KvBlock> cached = new HashMap<>();
    private long lastSerial;

    /**
     * A pool of {@code capacity} free blocks with ids 0 … capacity − 1, handed out in id order at first.
     *
     * @param name     names the pool in messages ("device", "cpu")
     * @param capacity ≥ 0 blocks
     */
    public BlockPool(String name, int capacity) {
        if (capacity < 0) {
            throw new IllegalArgumentException("pool '" + name + "' capacity must be >= 0 blocks, got " + capacity);
        }
        this.name = name;
        this.blocks = new KvBlock[capacity];
        for (int i = 0; i < capacity; i++) {
            blocks[i] = new KvBlock(i);
            free.addLast(blocks[i]);
        }
    }

    /** The pool's name. */
    public String name() {
        return name;
    }

    /** Number of blocks. */
    public int capacity() {
        return blocks.length;
    }

    /** Blocks that {@link #allocate()} can hand out: free plus cached-evictable. */
    public int numFreeBlocks() {
        return free.size() + evictable.size();
    }

    /** Cached blocks with count 0 (evictable). */
    public int numEvictableBlocks() {
        return evictable.size();
    }

    /** Blocks in the prefix cache, referenced or not. */
    public int numCachedBlocks() {
        return cached.size();
    }

    /** The block with this id. */
    public KvBlock block(int id) {
        if (id < 0 || id >= blocks.length) {
            throw new IllegalArgumentException("pool '" + name + "' has block ids [0, " + blocks.length + "), got " + id);
        }
        return blocks[id];
    }

    /** Free (never cached or evicted) block ids, next to be handed out first. */
    public List<Integer> freeIds() {
        return free.ids();
    }

    /** Cached-evictable block ids, least recently used first. */
    public List<Integer> evictableIds() {
        return evictable.ids();
    }

    /**
     * Takes a block with count 0 and sets its count to 1: a free one if any, else the least recently used cached one,
     * which leaves the prefix cache.
     *
     * @throws IllegalStateException when the pool has no block to give
     */
    KvBlock allocate() {
        KvBlock block;
        if (!free.isEmpty()) {
            block = free.pollFirst();
        } else if (!evictable.isEmpty()) {
            block = evictable.pollFirst();
            cached.remove(block.hash());
            block.uncache();
        } else {
            throw new IllegalStateException("pool '" + name + "' has no free block (capacity " + blocks.length
                    + "): check numFreeBlocks() before allocating");
        }
        block.setRefCount(1);
        return block;
    }

    /** Adds a reference to a referenced block, or takes a cached-evictable one back (a prefix-cache hit). */
    void retain(KvBlock block) {
        checkOwned(block);
        if (block.refCount() == 0) {
            if (!block.isCached()) {
                throw new IllegalStateException("retain of free " + block + " in pool '" + name
                        + "': a free block must be allocated, not retained");
            }
            evictable.remove(block);
        }
        block.setRefCount(block.refCount() + 1);
    }

    /**
     * Drops a reference. At count 0 the block becomes cached-evictable (most recently used) if it is in the prefix
     * cache, else free.
     *
     * @throws IllegalStateException on a block whose count is already 0 (a double free)
     */
    void release(KvBlock block) {
        checkOwned(block);
        if (block.refCount() <= 0) {
            throw new IllegalStateException("double free of " + block + " in pool '" + name + "'");
        }
        block.setRefCount(block.refCount() - 1);
        if (block.refCount() == 0) {
            (block.isCached() ? evictable : free).addLast(block);
        }
    }

    /**
     * The cached block for this hash if its token ids and its parent's serial are also equal (so neither a collision
     * on this block nor on its prefix is ever taken for a hit). The caller retains it to use it.
     */
    Optional<KvBlock> lookup(BlockHash hash, int[] tokens, long parentSerial) {
        KvBlock block = cached.get(hash);
        if (block == null || block.parentSerial() != parentSerial || !Arrays.equals(block.tokens(), tokens)) {
            return Optional.empty();
        }
        return Optional.of(block);
    }

    /**
     * Puts a referenced, full block into the prefix cache and returns the serial that now stands for its prefix: its
     * new serial; the serial of an equal block cached earlier (same hash, tokens and parent; this one stays out of
     * the cache, since block tables are append-only and are not de-duplicated); its own serial if it is already
     * cached; or 0 when the hash is taken by different content (a collision), which ends the chain.
     */
    long register(KvBlock block, BlockHash hash, int[] tokens, long parentSerial) {
        checkOwned(block);
        if (block.refCount() == 0) {
            throw new IllegalStateException("register of unreferenced " + block + " in pool '" + name + "'");
        }
        if (block.isCached()) {
            return block.hash().equals(hash) && block.parentSerial() == parentSerial
                    && Arrays.equals(block.tokens(), tokens) ? block.serial() : 0;
        }
        KvBlock existing = cached.get(hash);
        if (existing != null) {
            return existing.parentSerial() == parentSerial && Arrays.equals(existing.tokens(), tokens)
                    ? existing.serial() : 0;
        }
        block.cache(hash, tokens.clone(), ++lastSerial, parentSerial);
        cached.put(hash, block);
        return block.serial();
    }

    private void checkOwned(KvBlock block) {
        if (block.id() < 0 || block.id() >= blocks.length || blocks[block.id()] != block) {
            throw new IllegalArgumentException(block + " does not belong to pool '" + name + "'");
        }
    }

    @Override
    public String toString() {
        return "BlockPool[" + name + ", " + numFreeBlocks() + " of " + blocks.length + " free]";
    }
}
