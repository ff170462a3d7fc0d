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

        Block(DevicePointer ptr, long size) {
            this.ptr = ptr;
            this.size = size;
        }
    }

    private final TreeMap<Long, ArrayDeque<Block>> free = new TreeMap<>();
    private long allocated;
    private long reserved;
    private long peak;
    private long cudaMallocs;

    /** The size class a request of {@code bytes} is served from. */
    static long roundUp(long bytes) {
        long b = Math.max(bytes, 1);
        long step = b < SMALL ? SMALL_STEP : LARGE_STEP;
        return (b + step - 1) / step * step;
    }

    synchronized Block allocate(long bytes) {
        long size = roundUp(bytes);
        ArrayDeque<Block> cached = free.get(size);
        Block b;
        if (cached != null && !cached.isEmpty()) {
            b = cached.pop();
        } else {
            b = new Block(malloc(size), size);
            reserved += size;
        }
        allocated += size;
        peak = Math.max(peak, allocated);
        return b;
    }

    synchronized void release(Block b) {
        allocated -= b.size;
        free.computeIfAbsent(b.size, k -> new ArrayDeque<>()).push(b);
    }

    private DevicePointer malloc(long size) {
        DevicePointer p = new DevicePointer();
        try {
            cuMemAlloc(p, size);
        } catch (CudaException e) {
            emptyCache();
            try {
                cuMemAlloc(p, size);
            } catch (CudaException again) {
                throw new ai.fulgur.cuda.CudaException("cuMemAlloc of " + size + " bytes failed (" + again.getMessage()
                        + "); allocated " + allocated + " B, reserved " + reserved + " B, peak " + peak + " B", again);
            }
        }
        cudaMallocs++;
        return p;
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

    /** Number of cuMemAlloc calls so far (a steady training loop should stop adding to it). */
    synchronized long driverAllocations() {
        return cudaMallocs;
    }
}
