package ai.fulgur.cuda;

import ai.fulgur.ops.Tensor;

/** Small helpers for kernels: the device a tensor lives on and its base address. */
final class CudaTensors {
    private CudaTensors() {}

    static CudaStorage storage(Tensor t) {
        if (t.storage() instanceof CudaStorage s) {
            return s;
        }
        throw new IllegalArgumentException("tensor " + t + " is not on a CUDA device");
    }

    /** The address of element 0 of the storage (kernels add the tensor's offset themselves). */
    static long base(Tensor t) {
        return storage(t).address(0);
    }

    /** The address of the tensor's first element (its offset applied). */
    static long first(Tensor t) {
        return storage(t).address(t.offset());
    }

    static CudaDevice device(Tensor t) {
        return storage(t).cudaDevice();
    }

    /** Blocks for a grid-stride loop over {@code n} items: enough to fill the device, never more than needed. */
    static long blocksFor(CudaDevice device, long n, int threads) {
        long needed = (n + threads - 1) / threads;
        return Math.max(1, Math.min(needed, (long) device.multiprocessors() * 32));
    }
}
