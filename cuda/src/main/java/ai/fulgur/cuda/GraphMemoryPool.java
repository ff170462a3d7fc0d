package ai.fulgur.cuda;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * The device memory a {@link CudaGraph} owns, as PyTorch's graph memory pools: every block allocated while the graph
 * is captured comes from here, and the addresses the captured kernels use stay the graph's until it is closed. A
 * block freed during capture may be handed out again within the same capture (the recorded order is the replay's
 * order, so the reuse is safe), but once capture ends nothing else is served from the pool: between replays no other
 * allocation can take memory the next replay writes. Blocks allocated before the capture and freed during it are
 * held too (a captured kernel may read them) until the graph is closed.
 *
 * <p>Guarded by the {@link CachingAllocator}'s lock; only the allocator touches it.
 */
final class GraphMemoryPool {
    private final TreeMap<Long, ArrayDeque<CachingAllocator.Block>> free = new TreeMap<>();
    private final List<CachingAllocator.Block> held = new ArrayList<>();
    private long ownedBytes;
    private boolean capturing = true;
    private boolean closed;

    /** A free block of exactly {@code size} bytes (a size class) from this pool, or null. */
    CachingAllocator.Block take(long size) {
        ArrayDeque<CachingAllocator.Block> cached = free.get(size);
        return cached == null || cached.isEmpty() ? null : cached.pop();
    }

    /** Makes {@code b} (new from the driver or the allocator's cache) a block of this pool. */
    void adopt(CachingAllocator.Block b) {
        b.pool = this;
        ownedBytes += b.size;
    }

    /** A block of this closed pool came back: it is the allocator's cache's again. */
    void disown(CachingAllocator.Block b) {
        b.pool = null;
        ownedBytes -= b.size;
    }

    /** A block of this pool came back: reusable by this capture only. */
    void release(CachingAllocator.Block b) {
        free.computeIfAbsent(b.size, k -> new ArrayDeque<>()).push(b);
    }

    /** A block from outside the pool was freed during capture: kept until the graph is closed. */
    void hold(CachingAllocator.Block b) {
        held.add(b);
    }

    boolean isCapturing() {
        return capturing;
    }

    /** Capture ended: the pool serves no more allocations. */
    void endCapture() {
        capturing = false;
    }

    boolean isClosed() {
        return closed;
    }

    /**
     * The graph is gone: returns the free and held blocks (they go back to the allocator's cache) and marks the pool
     * closed, so its blocks still in use return to the cache when they are freed.
     */
    List<CachingAllocator.Block> close() {
        closed = true;
        capturing = false;
        List<CachingAllocator.Block> out = new ArrayList<>(held);
        held.clear();
        for (ArrayDeque<CachingAllocator.Block> q : free.values()) {
            out.addAll(q);
        }
        free.clear();
        for (CachingAllocator.Block b : out) {
            if (b.pool == this) {
                b.pool = null;
                ownedBytes -= b.size;
            }
        }
        return out;
    }

    /** Bytes of the blocks this pool owns (in use by the graph's tensors or free for it alone). */
    long ownedBytes() {
        return ownedBytes;
    }

    /** Bytes of blocks from outside held until close. */
    long heldBytes() {
        long n = 0;
        for (CachingAllocator.Block b : held) {
            n += b.size;
        }
        return n;
    }
}
