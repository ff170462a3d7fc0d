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

/**
 * A {@code CUtensorMap}: the 128-byte descriptor through which the copy engine (TMA) moves a box of a global tensor
 * into shared memory, encoded by {@code cuTensorMapEncodeTiled} of libcuda through {@code java.lang.foreign} (JCuda
 * 12.0 has no binding for it) from a checked {@link TensorMapLayout}.
 *
 * <p>Kernels take it by value as a {@code const __grid_constant__ CUtensorMap} parameter. Its place in the parameter
 * bank is the driver's to choose, not the C layout's: for {@code (FlashParams, CUtensorMap × 3)} cuFuncGetParamInfo
 * reports offsets 0, 496, 624 and 752 on driver 580 (the C layout, with cuda.h's {@code alignas(128)}, would put the
 * maps at 512, 640 and 768), so {@link CudaDevice} launches a kernel with a map through one pointer per argument and
 * lets the driver place each one; a packed buffer would misplace them. Passed by value, the map is part of the
 * launch's parameters, so a CUDA graph captures it with the launch and replays it unchanged (the addresses it names
 * are the captured tensors', as for every other argument); nothing lives in host or device memory between calls.
 */
final class TensorMap {
    /** Bytes of a CUtensorMap. */
    static final int BYTES = 128;
    /** Alignment of the host copy the driver encodes into, in bytes (it asks for 64). */
    static final int ALIGNMENT = 128;

    private static final MethodHandle ENCODE = lookup();

    private final long[] words;

    private TensorMap(long[] words) {
        this.words = words;
    }

    /** cuTensorMapEncodeTiled of libcuda.so.1, or null where the driver library cannot be opened. */
    private static MethodHandle lookup() {
        try {
            SymbolLookup lib = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
            // CUresult (CUtensorMap*, CUtensorMapDataType, cuuint32_t rank, void* address, const cuuint64_t* dims,
            // const cuuint64_t* strides, const cuuint32_t* box, const cuuint32_t* elementStrides, interleave,
            // swizzle, l2Promotion, oobFill): the enums are C ints
            return lib.find("cuTensorMapEncodeTiled").map(s -> Linker.nativeLinker().downcallHandle(s,
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS,
                            ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT))).orElse(null);
        } catch (IllegalArgumentException | IllegalCallerException e) {
            return null;
        }
    }

    /** A map from its 16 words as the driver wrote them (tests of the launch path). */
    static TensorMap fromWords(long... words) {
        if (words.length != BYTES / 8) {
            throw new IllegalArgumentException("a CUtensorMap is " + BYTES / 8 + " words, got " + words.length);
        }
        return new TensorMap(words.clone());
    }

    /** Whether maps can be encoded here (the driver library and its cuTensorMapEncodeTiled resolved). */
    static boolean available() {
        return ENCODE != null;
    }

    /**
     * Encodes {@code layout} (128-byte swizzle, no interleave, 128-byte L2 promotion, out-of-bounds elements zero).
     *
     * @throws IllegalArgumentException when the layout breaks the copy engine's rules ({@link TensorMapLayout#problem})
     * @throws CudaException            when the driver is missing or refuses the arguments (its CUresult named)
     */
    static TensorMap encode(TensorMapLayout layout) {
        String problem = layout.problem();
        if (problem != null) {
            throw new IllegalArgumentException("tensor map " + layout + ": " + problem);
        }
        if (ENCODE == null) {
            throw new CudaException("cuTensorMapEncodeTiled is unavailable: libcuda.so.1 could not be opened");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment map = arena.allocate(BYTES, ALIGNMENT); // the driver wants a 64-byte-aligned map
            MemorySegment dims = arena.allocateFrom(JAVA_LONG, layout.dims());
            MemorySegment strides = arena.allocateFrom(JAVA_LONG, layout.strides());
            MemorySegment box = arena.allocateFrom(JAVA_INT, layout.box());
            MemorySegment elementStrides = arena.allocateFrom(JAVA_INT, 1, 1, 1, 1);
            int result = (int) ENCODE.invokeExact(map, layout.dataType(), 4, layout.address(), dims, strides, box,
                    elementStrides, 0, TensorMapLayout.SWIZZLE_128B, TensorMapLayout.L2_PROMOTION_128B, 0);
            if (result != 0) {
                throw new CudaException("cuTensorMapEncodeTiled failed with CUresult " + result + " ("
                        + jcuda.driver.CUresult.stringFor(result) + ") for " + layout);
            }
            return new TensorMap(map.toArray(JAVA_LONG));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cuTensorMapEncodeTiled through java.lang.foreign failed: " + t, t);
        }
    }

    /** The descriptor's 16 words (for the one-pointer-per-argument launch path). */
    long[] words() {
        return words.clone();
    }
}
