package ai.fulgur.cuda;

import jcuda.driver.CUstream;

/** A JCuda stream whose raw handle is readable, for cuBLASLt and NCCL calls through java.lang.foreign. */
final class NativeStream extends CUstream {

    /** The CUstream handle. */
    long address() {
        return getNativePointer();
    }
}
