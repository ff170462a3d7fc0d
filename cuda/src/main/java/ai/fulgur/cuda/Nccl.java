package ai.fulgur.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import ai.fulgur.ops.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * NCCL through {@code java.lang.foreign} (no JCuda binding exists): the unique id that starts a group, communicator
 * creation per rank, all-reduce and broadcast on a given stream. Resolves {@code libnccl.so.2} at first use.
 */
final class Nccl {
    /** Bytes of an ncclUniqueId (NCCL_UNIQUE_ID_BYTES). */
    static final int UNIQUE_ID_BYTES = 128;
    private static final StructLayout UNIQUE_ID = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(UNIQUE_ID_BYTES, JAVA_BYTE).withName("internal"));
    // ncclDataType_t and ncclRedOp_t (nccl.h)
    private static final int NCCL_SUM = 0;

    private static final Linker LINKER = Linker.nativeLinker();
    private static volatile Nccl instance;
    private static String unavailable;

    private final MethodHandle getUniqueId;
    private final MethodHandle commInitRank;
    private final MethodHandle commDestroy;
    private final MethodHandle allReduce;
    private final MethodHandle broadcast;
    private final MethodHandle errorString;
    private final MethodHandle getVersion;

    private Nccl(SymbolLookup lib) {
        getUniqueId = handle(lib, "ncclGetUniqueId", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        commInitRank = handle(lib, "ncclCommInitRank",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, UNIQUE_ID, JAVA_INT));
        commDestroy = handle(lib, "ncclCommDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        allReduce = handle(lib, "ncclAllReduce", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG,
                JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        broadcast = handle(lib, "ncclBroadcast", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG,
                JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        errorString = handle(lib, "ncclGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        getVersion = handle(lib, "ncclGetVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static MethodHandle handle(SymbolLookup lib, String name, FunctionDescriptor fd) {
        MemorySegment symbol = lib.find(name).orElseThrow(() -> new CudaException("NCCL lacks " + name));
        return LINKER.downcallHandle(symbol, fd);
    }

    /** The library, loaded on first use. */
    static Nccl get() {
        Nccl n = instance;
        if (n != null) {
            return n;
        }
        synchronized (Nccl.class) {
            if (instance == null) {
                if (unavailable != null) {
                    throw new CudaException(unavailable);
                }
                try {
                    instance = new Nccl(SymbolLookup.libraryLookup("libnccl.so.2", Arena.global()));
                } catch (IllegalArgumentException e) {
                    unavailable = "NCCL could not be loaded (libnccl.so.2 not found); install NCCL or add it to "
                            + "LD_LIBRARY_PATH to train on several GPUs";
                    throw new CudaException(unavailable);
                }
            }
            return instance;
        }
    }

    /** NCCL's version code (e.g. 22703 for 2.27.3). */
    int version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("ncclGetVersion", (int) getVersion.invokeExact(v));
            return v.get(JAVA_INT, 0);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("ncclGetVersion failed", t);
        }
    }

    /** A fresh id for a new group (rank 0 makes it and hands it to the others). */
    byte[] uniqueId() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment id = a.allocate(UNIQUE_ID);
            check("ncclGetUniqueId", (int) getUniqueId.invokeExact(id));
            return id.toArray(JAVA_BYTE);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("ncclGetUniqueId failed", t);
        }
    }

    /** Joins the group {@code id} as {@code rank} of {@code size} on {@code device}; blocks until all have joined. */
    MemorySegment initRank(CudaDevice device, byte[] id, int rank, int size) {
        if (id.length != UNIQUE_ID_BYTES) {
            throw new IllegalArgumentException("an NCCL unique id has " + UNIQUE_ID_BYTES + " bytes, got "
                    + id.length);
        }
        device.enter();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment comm = a.allocate(ADDRESS);
            MemorySegment idSegment = a.allocate(UNIQUE_ID);
            MemorySegment.copy(id, 0, idSegment, JAVA_BYTE, 0, id.length);
            check("ncclCommInitRank (rank " + rank + " of " + size + ")",
                    (int) commInitRank.invokeExact(comm, size, idSegment, rank));
            return comm.get(ADDRESS, 0);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("ncclCommInitRank failed", t);
        }
    }

    void destroy(MemorySegment comm) {
        try {
            check("ncclCommDestroy", (int) commDestroy.invokeExact(comm));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("ncclCommDestroy failed", t);
        }
    }

    /** In-place sum over the group of {@code count} elements at {@code address}, queued on {@code stream}. */
    void allReduceSum(MemorySegment comm, CudaDevice device, NativeStream stream, long address, long count,
            DType dtype) {
        device.enter();
        MemorySegment buffer = MemorySegment.ofAddress(address);
        try {
            check("ncclAllReduce of " + count + " " + dtype, (int) allReduce.invokeExact(buffer, buffer, count,
                    dataType(dtype), NCCL_SUM, comm, MemorySegment.ofAddress(stream.address())));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("ncclAllReduce failed", t);
        }
    }

    /** In-place broadcast from {@code root} of {@code count} elements at {@code address}, queued on {@code stream}. */
    void broadcast(MemorySegment comm, CudaDevice device, NativeStream stream, long address, long count, DType dtype,
            int root) {
        device.enter();
        MemorySegment buffer = MemorySegment.ofAddress(address);
        try {
            check("ncclBroadcast of " + count + " " + dtype + " from rank " + root, (int) broadcast.invokeExact(
                    buffer, buffer, count, dataType(dtype), root, comm, MemorySegment.ofAddress(stream.address())));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("ncclBroadcast failed", t);
        }
    }

    static int dataType(DType t) {
        return switch (t) {
            case I8 -> 0;
            case U8, BOOL -> 1;
            case I32 -> 2;
            case I64 -> 4;
            case F16 -> 6;
            case F32 -> 7;
            case F64 -> 8;
            case BF16 -> 9;
        };
    }

    private void check(String call, int result) {
        if (result != 0) {
            String text;
            try {
                MemorySegment s = (MemorySegment) errorString.invokeExact(result);
                text = s.reinterpret(1024).getString(0);
            } catch (Throwable t) {
                text = "ncclResult " + result;
            }
            throw new CudaException(call + " failed: " + text + " (ncclResult " + result + ")");
        }
    }
}
