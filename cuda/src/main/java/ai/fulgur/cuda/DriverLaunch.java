package ai.fulgur.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * {@code cuLaunchKernel} called through {@code java.lang.foreign} instead of JCuda's JNI wrapper. JCuda walks its
 * {@code Pointer} objects on every call (the {@code extra} array, the argument buffer, the size) before it reaches the
 * driver; here the arguments go into one native buffer per thread and the driver gets raw addresses, so a launch costs
 * little more than the driver's own work. {@code -Dfulgur.cuda.launch=jcuda} keeps the JCuda call (LaunchBench
 * compares the two).
 *
 * <p>Arguments are packed as the C ABI lays out the kernel's parameters (each at its natural alignment) and handed over
 * with {@code CU_LAUNCH_PARAM_BUFFER_POINTER}; the size is exactly the parameters' extent (the driver refuses a size
 * padded beyond the last parameter).
 */
final class DriverLaunch {
    private static final long CU_LAUNCH_PARAM_END = 0;
    private static final long CU_LAUNCH_PARAM_BUFFER_POINTER = 1;
    private static final long CU_LAUNCH_PARAM_BUFFER_SIZE = 2;
    /** Bytes of one launch's parameters at most (the driver's limit for a kernel's parameters is 4 KiB on sm_70+). */
    static final int ARGUMENT_BYTES = 4096;

    private static final MethodHandle LAUNCH = lookup();

    private DriverLaunch() {}

    /** cuLaunchKernel of libcuda.so.1, or null where the driver library cannot be opened. */
    private static MethodHandle lookup() {
        try {
            SymbolLookup lib = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
            return lib.find("cuLaunchKernel").map(s -> Linker.nativeLinker().downcallHandle(s,
                    FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                            JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS))).orElse(null);
        } catch (IllegalArgumentException | IllegalCallerException e) {
            return null;
        }
    }

    /** Whether launches can go through this class (the driver library resolved). */
    static boolean available() {
        return LAUNCH != null;
    }

    /**
     * A thread's launch arguments: a native buffer the arguments are written into (also visible as a ByteBuffer for
     * the JCuda path), the size word, and the {@code extra} array that points at both.
     */
    static final class Arguments {
        final MemorySegment segment = Arena.ofAuto().allocate(ARGUMENT_BYTES, 16);
        final ByteBuffer buffer = segment.asByteBuffer().order(ByteOrder.nativeOrder());
        private final MemorySegment size = Arena.ofAuto().allocate(JAVA_LONG);
        private final MemorySegment extra = Arena.ofAuto().allocate(JAVA_LONG, 5);

        Arguments() {
            extra.setAtIndex(JAVA_LONG, 0, CU_LAUNCH_PARAM_BUFFER_POINTER);
            extra.setAtIndex(JAVA_LONG, 1, segment.address());
            extra.setAtIndex(JAVA_LONG, 2, CU_LAUNCH_PARAM_BUFFER_SIZE);
            extra.setAtIndex(JAVA_LONG, 3, size.address());
            extra.setAtIndex(JAVA_LONG, 4, CU_LAUNCH_PARAM_END);
        }

        /**
         * Launches {@code function} with the {@code bytes} first bytes of the buffer as its parameters; returns the
         * driver's CUresult (0 on success).
         */
        int launch(long function, long gridX, long gridY, long gridZ, int block, int sharedBytes, long stream,
                int bytes) {
            size.set(JAVA_LONG, 0, bytes);
            try {
                return (int) LAUNCH.invokeExact(function, (int) gridX, (int) gridY, (int) gridZ, block, 1, 1,
                        sharedBytes, stream, MemorySegment.NULL, extra);
            } catch (Throwable t) {
                throw new CudaException("cuLaunchKernel through java.lang.foreign failed: " + t, t);
            }
        }
    }
}
