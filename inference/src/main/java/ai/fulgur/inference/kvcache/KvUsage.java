package ai.fulgur.inference.kvcache;

/**
 * A snapshot of the device pool: how many blocks are referenced, how many hold cached prefixes that nobody uses (free
 * to evict), and how well the referenced blocks are filled. Waste is the slots of referenced blocks that hold no
 * token: with paging it stays under one block per sequence (the partly filled last block).
 *
 * @param totalBlocks     the pool's capacity
 * @param usedBlocks      blocks with a reference count above 0
 * @param cachedFreeBlocks blocks with count 0 that still hold a cached prefix (evictable, LRU)
 * @param allocatedSlots  usedBlocks × block size
 * @param filledSlots     token slots of the used blocks that hold a token of some sequence (a shared block counts once)
 */
public record KvUsage(int totalBlocks, int usedBlocks, int cachedFreeBlocks, long allocatedSlots, long filledSlots) {

    /** Used blocks over capacity, in [0, 1]. */
    public double utilisation() {
        return totalBlocks == 0 ? 0 : (double) usedBlocks / totalBlocks;
    }

    /** Allocated slots holding no token, over allocated slots ("KV memory waste"); 0 when nothing is allocated. */
    public double wasteFraction() {
        return allocatedSlots == 0 ? 0 : (double) (allocatedSlots - filledSlots) / allocatedSlots;
    }
}
