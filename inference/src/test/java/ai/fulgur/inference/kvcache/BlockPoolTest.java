package ai.fulgur.inference.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** A pool of 4 blocks, with the exact ids, counts and queue order after each step. */
class BlockPoolTest {
    private static final BlockHash H1 = new BlockHash(1, 1);
    private static final BlockHash H2 = new BlockHash(2, 2);
    private static final BlockHash H3 = new BlockHash(3, 3);

    @Test
    void allocatesInIdOrderAndReturnsFreedBlocksToTheTail() {
        BlockPool pool = new BlockPool("device", 4);
        assertEquals(List.of(0, 1, 2, 3), pool.freeIds());
        KvBlock a = pool.allocate();
        KvBlock b = pool.allocate();
        assertEquals(0, a.id());
        assertEquals(1, b.id());
        assertEquals(1, a.refCount());
        assertEquals(2, pool.numFreeBlocks());
        pool.retain(a);
        assertEquals(2, a.refCount());
        pool.release(a);
        assertEquals(List.of(2, 3), pool.freeIds()); // still referenced once
        pool.release(a);
        assertEquals(List.of(2, 3, 0), pool.freeIds());
        assertEquals(0, a.refCount());
        assertEquals(2, pool.allocate().id());
    }

    @Test
    void doubleFreeAndOverAskingAreBugs() {
        BlockPool pool = new BlockPool("device", 1);
        KvBlock a = pool.allocate();
        IllegalStateException empty = assertThrows(IllegalStateException.class, pool::allocate);
        assertTrue(empty.getMessage().contains("no free block (capacity 1)"), empty.getMessage());
        pool.release(a);
        IllegalStateException twice = assertThrows(IllegalStateException.class, () -> pool.release(a));
        assertTrue(twice.getMessage().contains("double free"), twice.getMessage());
        assertThrows(IllegalStateException.class, () -> pool.retain(a)); // free blocks are allocated, not retained
        assertThrows(IllegalArgumentException.class, () -> pool.release(new BlockPool("cpu", 1).allocate()));
    }

    @Test
    void cachedBlocksAreEvictedLeastRecentlyUsedFirstAndOnlyWhenNoFreeBlockIsLeft() {
        BlockPool pool = new BlockPool("device", 4);
        KvBlock a = pool.allocate();
        KvBlock b = pool.allocate();
        KvBlock c = pool.allocate();
        long sa = pool.register(a, H1, new int[] {1, 2}, 0);
        long sb = pool.register(b, H2, new int[] {3, 4}, sa);
        long sc = pool.register(c, H3, new int[] {5, 6}, sb);
        assertEquals(List.of(1L, 2L, 3L), List.of(sa, sb, sc));
        assertEquals(3, pool.numCachedBlocks());
        pool.release(b);
        pool.release(a);
        pool.release(c);
        assertEquals(List.of(1, 0, 2), pool.evictableIds());
        assertEquals(List.of(3), pool.freeIds());
        assertEquals(4, pool.numFreeBlocks());

        // a hit takes a cached block back out of the evictable queue
        KvBlock hit = pool.lookup(H1, new int[] {1, 2}, 0).orElseThrow();
        assertSame(a, hit);
        pool.retain(hit);
        assertEquals(List.of(1, 2), pool.evictableIds());

        assertEquals(3, pool.allocate().id()); // the free block goes first
        KvBlock evicted = pool.allocate(); // then the least recently released cached block
        assertEquals(1, evicted.id());
        assertFalse(evicted.isCached());
        assertTrue(pool.lookup(H2, new int[] {3, 4}, sa).isEmpty());
        assertEquals(2, pool.numCachedBlocks());
        assertEquals(List.of(2), pool.evictableIds());
    }

    @Test
    void lookupComparesTokensAndParentSoCollisionsMiss() {
        BlockPool pool = new BlockPool("device", 3);
        KvBlock a = pool.allocate();
        long serial = pool.register(a, H1, new int[] {7, 8}, 0);
        assertTrue(pool.lookup(H1, new int[] {7, 8}, 0).isPresent());
        assertTrue(pool.lookup(H1, new int[] {7, 9}, 0).isEmpty()); // same hash, other tokens
        assertTrue(pool.lookup(H1, new int[] {7, 8}, 99).isEmpty()); // same block, other prefix
        KvBlock twin = pool.allocate();
        assertEquals(serial, pool.register(twin, H1, new int[] {7, 8}, 0)); // equal content: the cached one stands
        assertFalse(twin.isCached());
        KvBlock other = pool.allocate();
        assertEquals(0, pool.register(other, H1, new int[] {1, 1}, 0)); // a collision ends the chain
        assertFalse(other.isCached());
        assertEquals(serial, pool.register(a, H1, new int[] {7, 8}, 0)); // registering again is a no-op
    }
}
