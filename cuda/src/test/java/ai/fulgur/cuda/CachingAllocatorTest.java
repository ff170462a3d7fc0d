package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.Cleaner;
import org.junit.jupiter.api.Test;

/**
 * {@link CachingAllocator}'s garbage-collection threshold: blocks left to cleaners (as dead activations are) are
 * collected before the allocator holds more than the threshold from the driver, and then reused from the cache.
 * The threshold setting's parsing runs anywhere; the allocation test needs the GPU.
 */
class CachingAllocatorTest {
    private static final long MIB = 1 << 20;

    @Test
    void thresholdSettingIsAFractionOrBytes() {
        assertEquals(800, CudaDevice.gcThreshold(null, 1000), "default: 0.8 of the device");
        assertEquals(250, CudaDevice.gcThreshold("0.25", 1000));
        assertEquals(0, CudaDevice.gcThreshold("0", 1000), "0: collect before every new driver allocation");
        assertEquals(5_000_000, CudaDevice.gcThreshold("5e6", 1000), "above 1: bytes");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaDevice.gcThreshold("lots", 1000));
        assertTrue(e.getMessage().contains("'lots'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> CudaDevice.gcThreshold("-1", 1000));
        assertTrue(e.getMessage().contains("-1"), e.getMessage());
    }

    /** Tagged gpu through {@link GpuTest}. */
    static class OnTheGpu extends GpuTest {
        @Test
        void unreachableBlocksAreCollectedBeforeThePoolPassesTheThreshold() {
            CudaDevice d = CudaBackend.device(GPU);
            d.enter();
            long threshold = 64 * MIB;
            CachingAllocator allocator = new CachingAllocator(threshold);
            Cleaner cleaner = Cleaner.create();
            for (int i = 0; i < 64; i++) {
                CachingAllocator.Block b = allocator.allocate(16 * MIB);
                // the owner is dropped at once: only a garbage collection returns the block
                cleaner.register(new Object(), () -> allocator.release(b));
                assertTrue(allocator.reservedBytes() <= threshold + 16 * MIB, "allocation " + i + ": reserved "
                        + allocator.reservedBytes() + " B passed the threshold " + threshold + " B");
            }
            assertTrue(allocator.collections() > 0, "the allocator collected garbage");
            assertTrue(allocator.driverAllocations() <= 5, "blocks were reused from the cache, not allocated anew: "
                    + allocator.driverAllocations() + " driver allocations for 64 requests");
            allocator.emptyCache();
        }
    }
}
