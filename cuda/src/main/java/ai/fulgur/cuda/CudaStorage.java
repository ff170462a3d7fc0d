package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Storage;
import java.lang.ref.Cleaner;
import jcuda.driver.CUdeviceptr;

/**
 * Device memory holding {@code length} elements of one dtype, from the device's {@link CachingAllocator}. The block
 * returns to the allocator on {@link #close()} or, if nobody closed it, when the storage becomes unreachable.
 */
public final class CudaStorage implements Storage {
    private static final Cleaner CLEANER = Cleaner.create();

    private final CudaDevice device;
    private final DType dtype;
    private final long length;
    private final CachingAllocator.Block block;
    private final Cleaner.Cleanable cleanable;

    CudaStorage(CudaDevice device, DType dtype, long length) {
        this.device = device;
        this.dtype = dtype;
        this.length = length;
        this.block = device.allocator().allocate(Math.max(1, length * dtype.byteSize()));
        CachingAllocator allocator = device.allocator();
        CachingAllocator.Block b = block;
        this.cleanable = CLEANER.register(this, () -> allocator.release(b));
    }

    @Override
    public Device device() {
        return Device.cuda(device.index());
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public long length() {
        return length;
    }

    /** The device address of element {@code index}. */
    public long address(long index) {
        return block.ptr.address() + index * dtype.byteSize();
    }

    /** A JCuda pointer to element {@code index}. */
    CUdeviceptr pointer(long index) {
        return block.ptr.plus(index * dtype.byteSize());
    }

    CudaDevice cudaDevice() {
        return device;
    }

    /** Returns the memory to the allocator now; the storage must not be used afterwards. */
    @Override
    public void close() {
        cleanable.clean();
    }
}
