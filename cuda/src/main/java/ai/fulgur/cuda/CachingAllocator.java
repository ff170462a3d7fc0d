package ai.fulgur.cuda;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;
import jcuda.CudaException;

/**
 * Device memory for one device, cached as PyTorch's allocator does: freed blocks go to a free list keyed by size and
 * are handed out again instead of calling cuMemFree/cuMemAlloc in the training loop. Sizes are rounded to a size
 * class (512 B steps below 1 MiB, 2 MiB steps above) so blocks are reusable across slightly different requests. When
 * the driver runs out of memory the cache is emptied and the allocation retried once.
 *
 * <p>Storages return their blocks when closed or, failing that, when the JVM finds them unreachable (a cleaner); the
 * autograd graph and DJL's managers leave most activations and gradients to the latter. The JVM's heap does not see
 * device memory, so it may not collect for many steps while the device fills up with dead blocks. So, before the
 * bytes handed out pass a threshold (and before giving up when the driver is out of memory), the allocator runs the
 * garbage collector and waits for the cleaners; where the live bytes alone pass the threshold, it is raised above
 * them by a headroom ({@code -Dfulgur.cuda.gcHeadroom}, default 0.25, i.e. a quarter), so collections stay rare. The threshold is {@code -Dfulgur.cuda.gcThreshold}: bytes, or a
 * fraction of the device's memory (default 0.8). A small value keeps the peak statistic within about a quarter of
 * the memory really live at the peak (more collections: for measuring memory, not speed).
 *
 * <p>While a {@link CudaGraph} is captured, allocations come from its {@link GraphMemoryPool} instead (see there);
 * blocks go back to the cache when the graph is closed.
 *
 * <p>Statistics: allocated (bytes in live blocks), reserved (allocated plus cached), peak allocated.
 */
final class CachingAllocator {
    private static final long SMALL = 1L << 20;
    private static final long SMALL_STEP = 512;
    private static final long LARGE_STEP = 2L << 20;

    /** A device allocation of {@code size} bytes. */
    static final class Block {
        final DevicePointer ptr;
        final long size;
        /** The graph pool that owns this block, or null for the allocator's own cache. */
        GraphMemoryPool pool;

        Block(DevicePointer ptr, long size) {
            this.ptr = ptr;
            this.size = size;
        }
    }

    private final TreeMap<Long, ArrayDeque<Block>> free = new TreeMap<>();
    private GraphMemoryPool capture; // the pool of the graph being captured, or null
    private long allocated;
    private long reserved;
    private long peak;
    private long cudaMallocs;
    private long threshold; // collect garbage before handing out more than this
    private final java.util.concurrent.atomic.AtomicLong releases = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong collections = new java.util.concurrent.atomic.AtomicLong();
    private static final long GC_WAIT_MS = 200;
    /** {@code -Dfulgur.cuda.gcHeadroom}: how far above live memory a raised threshold goes (default 0.25). */
    private static final double HEADROOM = Double.parseDouble(System.getProperty("fulgur.cuda.gcHeadroom", "0.25"));

    /**
     * An allocator that collects garbage before handing out more than {@code gcThresholdBytes} at once
     * ({@code Long.MAX_VALUE}: only when the driver is out of memory).
     */
    CachingAllocator(long gcThresholdBytes) {
        if (gcThresholdBytes < 0) {
            throw new IllegalArgumentException("GC threshold must be >= 0 bytes, got " + gcThresholdBytes);
        }
        this.threshold = gcThresholdBytes;
    }

    /** An allocator that collects garbage only when the driver is out of memory. */
    CachingAllocator() {
        this(Long.MAX_VALUE);
    }

    /** The size class a request of {@code bytes} is served from. */
    static long roundUp(long bytes) {
        long b = Math.max(bytes, 1);
        long step = b < SMALL ? SMALL_STEP : LARGE_STEP;
        return (b + step - 1) / step * step;
    }

    /**
     * A block of at least {@code bytes}: first, when the bytes handed out would pass the collection threshold, a
     * garbage collection (see the class comment); then from the cache when a block of its size class is free, else
     * from the driver, collecting garbage and emptying the cache once if the driver is out of memory.
     */
    Block allocate(long bytes) {
        long size = roundUp(bytes);
        Block pooled = allocateForCapture(size);
        if (pooled != null) {
            return pooled;
        }
        if (wouldPassThreshold(size)) {
            collectGarbage();
            raiseThresholdIfStillOver(size);
        }
        Block b = takeCached(size);
        if (b == null) {
            b = allocateNew(size, false);
        }
        if (b == null) {
            collectGarbage();
            emptyCache();
            b = takeCached(size);
            if (b == null) {
                b = allocateNew(size, true);
            }
        }
        return b;
    }

    private synchronized boolean wouldPassThreshold(long size) {
        return allocated + size > threshold;
    }

    /** When live memory alone passes the threshold, lifts it by the headroom above it so collections stay rare. */
    private synchronized void raiseThresholdIfStillOver(long size) {
        if (allocated + size > threshold) {
            threshold = (long) ((allocated + size) * (1 + HEADROOM));
        }
    }

    private synchronized Block takeCached(long size) {
        ArrayDeque<Block> cached = free.get(size);
        if (cached == null || cached.isEmpty()) {
            return null;
        }
        Block b = cached.pop();
        count(b);
        return b;
    }

    synchronized void release(Block b) {
        releases.incrementAndGet();
        allocated -= b.size;
        if (b.pool != null && !b.pool.isClosed()) {
            b.pool.release(b);
            return;
        }
        if (b.pool != null) { // its graph is gone: the block is the cache's again
            b.pool.disown(b);
        }
        if (capture != null) {
            capture.hold(b); // freed during capture: a captured kernel may still read it at replay
            return;
        }
        free.computeIfAbsent(b.size, k -> new ArrayDeque<>()).push(b);
    }

    // -----------------------------------------------------------------------------------------------------------------
    // graph capture

    /** From now on allocations come from {@code pool} (see {@link GraphMemoryPool}). */
    synchronized void beginCapture(GraphMemoryPool pool) {
        if (capture != null) {
            throw new IllegalStateException("a CUDA graph is already being captured on this device; captures do not "
                    + "nest");
        }
        capture = pool;
    }

    /** Allocations come from the cache again; the pool keeps its blocks for the graph's replays. */
    synchronized void endCapture(GraphMemoryPool pool) {
        if (capture == pool) {
            capture = null;
        }
        pool.endCapture();
    }

    /** The graph is closed: its pool's free and held blocks return to the cache. */
    synchronized void closePool(GraphMemoryPool pool) {
        if (capture == pool) {
            capture = null;
        }
        for (Block b : pool.close()) {
            free.computeIfAbsent(b.size, k -> new ArrayDeque<>()).push(b);
        }
    }

    /**
     * During capture, a block of {@code size} from the pool: one it freed earlier in this capture, else one moved
     * from the cache, else a new one from the driver (allowed in relaxed capture mode); null when not capturing. No
     * garbage collection and no emptying of the cache here: cuMemFree would synchronise the capturing stream.
     */
    private synchronized Block allocateForCapture(long size) {
        if (capture == null) {
            return null;
        }
        Block b = capture.take(size);
        if (b != null) {
            count(b);
            return b;
        }
        b = takeCached(size); // takeCached and allocateNew count the block as allocated
        if (b == null) {
            b = allocateNew(size, true);
        }
        capture.adopt(b);
        return b;
    }

    /** Bytes {@code pool} owns. */
    synchronized long poolBytes(GraphMemoryPool pool) {
        return pool.ownedBytes();
    }

    /** Runs the garbage collector and waits for the storages it frees (before a capture begins). */
    void collectGarbageBeforeCapture() {
        collectGarbage();
    }

    /** A new block from the driver, or null when it is out of memory and {@code last} is false. */
    private synchronized Block allocateNew(long size, boolean last) {
        DevicePointer p = new DevicePointer();
        try {
            cuMemAlloc(p, size);
        } catch (CudaException e) {
            if (!last) {
                return null;
            }
            throw new ai.fulgur.cuda.CudaException("cuMemAlloc of " + size + " bytes failed (" + e.getMessage()
                    + "); allocated " + allocated + " B, reserved " + reserved + " B, peak " + peak + " B", e);
        }
        cudaMallocs++;
        reserved += size;
        Block b = new Block(p, size);
        count(b);
        return b;
    }

    private void count(Block b) {
        allocated += b.size;
        peak = Math.max(peak, allocated);
    }

    /**
     * Runs the JVM's garbage collector and waits (at most {@value #GC_WAIT_MS} ms) until the storages it found
     * unreachable have come back through their cleaners. Called without the lock: the cleaner thread needs it.
     */
    private void collectGarbage() {
        collections.incrementAndGet();
        System.gc();
        long deadline = System.nanoTime() + GC_WAIT_MS * 1_000_000L;
        long start = releases.get();
        long seen = start;
        int quiet = 0;
        // done once releases have stopped for 3 ms, or after 20 ms with none (nothing was garbage)
        while (System.nanoTime() < deadline && quiet < (seen == start ? 20 : 3)) {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            long now = releases.get();
            quiet = now == seen ? quiet + 1 : 0;
            seen = now;
        }
    }

    /** Returns every cached block to the driver. */
    synchronized void emptyCache() {
        for (Map.Entry<Long, ArrayDeque<Block>> e : free.entrySet()) {
            for (Block b : e.getValue()) {
                cuMemFree(b.ptr);
                reserved -= b.size;
            }
        }
        free.clear();
    }

    /** Bytes in blocks handed out and not yet released. */
    synchronized long allocatedBytes() {
        return allocated;
    }

    /** Bytes obtained from the driver (handed out plus cached). */
    synchronized long reservedBytes() {
        return reserved;
    }

    /** The most bytes handed out at once since the last {@link #resetPeak()}. */
    synchronized long peakBytes() {
        return peak;
    }

    synchronized void resetPeak() {
        peak = allocated;
    }

    /** Garbage collections this allocator asked for. */
    long collections() {
        return collections.get();
    }

    /** Number of cuMemAlloc calls so far (a steady training loop should stop adding to it). */
    synchronized long driverAllocations() {
        return cudaMallocs;
    }
}
