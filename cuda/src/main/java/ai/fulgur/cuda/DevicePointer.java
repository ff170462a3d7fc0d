package ai.fulgur.cuda;

import jcuda.driver.CUdeviceptr;

/** A JCuda device pointer whose raw address is readable, for kernel arguments and cuBLASLt calls. */
final class DevicePointer extends CUdeviceptr {

    /** The device address. */
    long address() {
        return getNativePointer();
    }

    /** A pointer {@code bytes} past this one (a view, not an allocation). */
    CUdeviceptr plus(long bytes) {
        return withByteOffset(bytes);
    }
}
