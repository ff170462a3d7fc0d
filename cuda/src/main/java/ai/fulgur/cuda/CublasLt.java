package ai.fulgur.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import ai.fulgur.ops.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.ConcurrentHashMap;

/**
 * cuBLASLt through {@code java.lang.foreign} (JCuda's cuBLAS natives need libcublas.so.12, absent from CUDA 13):
 * strided-batched matrix products in F32, BF16 and F16 with F32 accumulation, optionally with a bias or bias+GELU
 * epilogue. Row-major operands are handed to the column-major library as their transposes (C = A·B is computed as
 * Cᵀ = Bᵀ·Aᵀ), so no data moves. Algorithms chosen by cuBLASLt's heuristic are cached per problem.
 */
final class CublasLt {
    // cudaDataType_t, cublasComputeType_t, cublasOperation_t, attribute and epilogue codes (cublasLt.h, library_types.h)
    private static final int CUDA_R_32F = 0;
    private static final int CUDA_R_16F = 2;
    private static final int CUDA_R_16BF = 14;
    private static final int COMPUTE_32F = 68;
    private static final int OP_N = 0;
    private static final int OP_T = 1;
    private static final int DESC_TRANSA = 3;
    private static final int DESC_TRANSB = 4;
    private static final int DESC_EPILOGUE = 7;
    private static final int DESC_BIAS_POINTER = 8;
    private static final int LAYOUT_BATCH_COUNT = 5;
    private static final int LAYOUT_STRIDED_BATCH_OFFSET = 6;
    private static final int PREF_MAX_WORKSPACE_BYTES = 1;
    private static final int HEURISTIC_RESULT_BYTES = 96;   // algo (64) + workspaceSize + state + waves + reserved[4]
    static final int EPILOGUE_DEFAULT = 1;
    static final int EPILOGUE_BIAS = 4;
    static final int EPILOGUE_GELU_BIAS = 36;              // tanh-form GELU, as GPT-2's

    static final long WORKSPACE_BYTES = 32L << 20;

    private static final Linker LINKER = Linker.nativeLinker();
    private static volatile CublasLt instance;
    private static String unavailable;

    private final MethodHandle create;
    private final MethodHandle descCreate;
    private final MethodHandle descSet;
    private final MethodHandle layoutCreate;
    private final MethodHandle layoutSet;
    private final MethodHandle prefCreate;
    private final MethodHandle prefSet;
    private final MethodHandle prefDestroy;
    private final MethodHandle heuristic;
    private final MethodHandle matmul;
    private final MethodHandle version;
    private final ConcurrentHashMap<Integer, MemorySegment> handles = new ConcurrentHashMap<>();

    private CublasLt(SymbolLookup lib) {
        create = handle(lib, "cublasLtCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        descCreate = handle(lib, "cublasLtMatmulDescCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        descSet = handle(lib, "cublasLtMatmulDescSetAttribute",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG));
        layoutCreate = handle(lib, "cublasLtMatrixLayoutCreate",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        layoutSet = handle(lib, "cublasLtMatrixLayoutSetAttribute",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG));
        prefCreate = handle(lib, "cublasLtMatmulPreferenceCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        prefSet = handle(lib, "cublasLtMatmulPreferenceSetAttribute",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG));
        prefDestroy = handle(lib, "cublasLtMatmulPreferenceDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        heuristic = handle(lib, "cublasLtMatmulAlgoGetHeuristic", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        matmul = handle(lib, "cublasLtMatmul", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG,
                ADDRESS));
        version = handle(lib, "cublasLtGetVersion", FunctionDescriptor.of(JAVA_LONG));
    }

    private static MethodHandle handle(SymbolLookup lib, String name, FunctionDescriptor fd) {
        MemorySegment symbol = lib.find(name).orElseThrow(() -> new CudaException("cuBLASLt lacks " + name));
        return LINKER.downcallHandle(symbol, fd);
    }

    /** The library, loaded on first use from libcublasLt.so.13 or .12. */
    static CublasLt get() {
        CublasLt c = instance;
        if (c != null) {
            return c;
        }
        synchronized (CublasLt.class) {
            if (instance == null) {
                if (unavailable != null) {
                    throw new CudaException(unavailable);
                }
                SymbolLookup lib = null;
                StringBuilder tried = new StringBuilder();
                for (String name : new String[] {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"}) {
                    try {
                        lib = SymbolLookup.libraryLookup(name, Arena.global());
                        break;
                    } catch (IllegalArgumentException e) {
                        tried.append(tried.isEmpty() ? "" : ", ").append(name);
                    }
                }
                if (lib == null) {
                    unavailable = "cuBLASLt could not be loaded (tried " + tried + "); install the CUDA toolkit's "
                            + "cuBLAS libraries or add them to LD_LIBRARY_PATH";
                    throw new CudaException(unavailable);
                }
                instance = new CublasLt(lib);
            }
            return instance;
        }
    }

    long version() {
        try {
            return (long) version.invokeExact();
        } catch (Throwable t) {
            throw new CudaException("cublasLtGetVersion failed", t);
        }
    }

    private static void check(String call, int status) {
        if (status != 0) {
            throw new CudaException(call + " failed with cublasStatus " + status);
        }
    }

    private MemorySegment handleFor(CudaDevice device) {
        return handles.computeIfAbsent(device.index(), i -> {
            device.enter();
            try (Arena a = Arena.ofConfined()) {
                MemorySegment p = a.allocate(ADDRESS);
                check("cublasLtCreate", (int) create.invokeExact(p));
                return p.get(ADDRESS, 0);
            } catch (CudaException e) {
                throw e;
            } catch (Throwable t) {
                throw new CudaException("cublasLtCreate failed", t);
            }
        });
    }

    static int dataType(DType t) {
        return switch (t) {
            case F32 -> CUDA_R_32F;
            case BF16 -> CUDA_R_16BF;
            case F16 -> CUDA_R_16F;
            default -> throw new IllegalArgumentException("cuBLASLt matmul takes F32, BF16 or F16, not " + t);
        };
    }

    /**
     * Descriptors, layouts and the chosen algorithm of one problem shape, created once: building them per call costs
     * tens of microseconds of host time, as long as a 4096³ bf16 product takes on an H100.
     */
    private record Plan(MemorySegment desc, MemorySegment la, MemorySegment lb, MemorySegment ld, MemorySegment algo,
            MemorySegment alpha, MemorySegment beta, MemorySegment bias) {}

    private final ConcurrentHashMap<String, Plan> plans = new ConcurrentHashMap<>();

    /**
     * Row-major D (batch, m, n) = alpha·op(A)·op(B) + beta·D, with A (batch, m, k) — or (batch, k, m) when transA —
     * and B (batch, k, n) — or (batch, n, k) when transB — contiguous per matrix; a batch stride of 0 broadcasts.
     * {@code bias} (n), when not 0, is added per output column, followed by tanh-GELU when {@code epilogue} says so.
     */
    void matmul(CudaDevice device, DType dtype, long batch, long m, long n, long k, long a, long strideA,
            boolean transA, long b, long strideB, boolean transB, long d, float alpha, float beta, long bias,
            int epilogue, long workspace) {
        device.enter();
        String key = device.index() + ":" + dtype + ":" + batch + ":" + m + ":" + n + ":" + k + ":" + transA + ":"
                + transB + ":" + strideA + ":" + strideB + ":" + epilogue;
        Plan plan = plans.computeIfAbsent(key, x -> plan(device, dtype, batch, m, n, k, strideA, transA, strideB,
                transB, epilogue));
        synchronized (plan) {
            try {
                plan.alpha().set(java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, alpha);
                plan.beta().set(java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, beta);
                if (epilogue != EPILOGUE_DEFAULT) {
                    plan.bias().set(JAVA_LONG, 0, bias);
                    check("cublasLtMatmulDescSetAttribute(bias)",
                            (int) descSet.invokeExact(plan.desc(), DESC_BIAS_POINTER, plan.bias(), 8L));
                }
                int status = (int) matmul.invokeExact(handleFor(device), plan.desc(), plan.alpha(),
                        MemorySegment.ofAddress(b), plan.lb(), MemorySegment.ofAddress(a), plan.la(), plan.beta(),
                        MemorySegment.ofAddress(d), plan.ld(), MemorySegment.ofAddress(d), plan.ld(), plan.algo(),
                        MemorySegment.ofAddress(workspace), WORKSPACE_BYTES,
                        MemorySegment.ofAddress(device.stream().address()));
                check("cublasLtMatmul(" + dtype + ", batch " + batch + ", m " + m + ", n " + n + ", k " + k + ")",
                        status);
            } catch (CudaException e) {
                throw e;
            } catch (Throwable t) {
                throw new CudaException("cublasLtMatmul failed", t);
            }
        }
    }

    /** Builds the descriptors (in memory that lives as long as the process) and picks the algorithm. */
    private Plan plan(CudaDevice device, DType dtype, long batch, long m, long n, long k, long strideA,
            boolean transA, long strideB, boolean transB, int epilogue) {
        int type = dataType(dtype);
        Arena arena = Arena.global();
        try {
            // column-major view: Dᵀ (n × m) = op(B)ᵀ (n × k) · op(A)ᵀ (k × m)
            MemorySegment desc = out(arena, p -> (int) descCreate.invokeExact(p, COMPUTE_32F, CUDA_R_32F),
                    "cublasLtMatmulDescCreate");
            setInt(desc, DESC_TRANSA, transB ? OP_T : OP_N, arena, descSet);
            setInt(desc, DESC_TRANSB, transA ? OP_T : OP_N, arena, descSet);
            MemorySegment biasSlot = arena.allocate(JAVA_LONG);
            if (epilogue != EPILOGUE_DEFAULT) {
                setInt(desc, DESC_EPILOGUE, epilogue, arena, descSet);
            }
            // B as the first operand: stored (k, n) row-major = col-major n × k (ld n); transposed: (n, k) row-major
            MemorySegment lb = layout(arena, type, transB ? k : n, transB ? n : k, transB ? k : n, batch, strideB);
            MemorySegment la = layout(arena, type, transA ? m : k, transA ? k : m, transA ? m : k, batch, strideA);
            MemorySegment ld = layout(arena, type, n, m, n, batch, m * n);
            MemorySegment algo = algorithm(device, arena, desc, lb, la, ld, dtype, batch, m, n, k);
            return new Plan(desc, la, lb, ld, algo, arena.allocate(java.lang.foreign.ValueLayout.JAVA_FLOAT),
                    arena.allocate(java.lang.foreign.ValueLayout.JAVA_FLOAT), biasSlot);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("building a cuBLASLt plan failed", t);
        }
    }

    private MemorySegment algorithm(CudaDevice device, Arena arena, MemorySegment desc, MemorySegment lb,
            MemorySegment la, MemorySegment ld, DType dtype, long batch, long m, long n, long k) throws Throwable {
        MemorySegment pref = out(arena, p -> (int) prefCreate.invokeExact(p), "cublasLtMatmulPreferenceCreate");
        try {
            MemorySegment ws = arena.allocate(JAVA_LONG);
            ws.set(JAVA_LONG, 0, WORKSPACE_BYTES);
            check("cublasLtMatmulPreferenceSetAttribute",
                    (int) prefSet.invokeExact(pref, PREF_MAX_WORKSPACE_BYTES, ws, 8L));
            MemorySegment results = arena.allocate(HEURISTIC_RESULT_BYTES, 8);
            MemorySegment count = arena.allocate(JAVA_INT);
            check("cublasLtMatmulAlgoGetHeuristic", (int) heuristic.invokeExact(handleFor(device), desc, lb, la, ld,
                    ld, pref, 1, results, count));
            if (count.get(JAVA_INT, 0) < 1) {
                throw new CudaException("cuBLASLt found no algorithm for " + dtype + " batch " + batch + " m " + m
                        + " n " + n + " k " + k);
            }
            return results; // the algo is the first 64 bytes of the heuristic result
        } finally {
            destroy(prefDestroy, pref);
        }
    }

    private MemorySegment layout(Arena arena, int type, long rows, long cols, long leading, long batch,
            long batchStride) throws Throwable {
        MemorySegment l = out(arena, p -> (int) layoutCreate.invokeExact(p, type, rows, cols, leading),
                "cublasLtMatrixLayoutCreate");
        if (batch > 1) {
            MemorySegment count = arena.allocate(JAVA_INT);
            count.set(JAVA_INT, 0, (int) batch);
            check("cublasLtMatrixLayoutSetAttribute(batch)",
                    (int) layoutSet.invokeExact(l, LAYOUT_BATCH_COUNT, count, 4L));
            MemorySegment stride = arena.allocate(JAVA_LONG);
            stride.set(JAVA_LONG, 0, batchStride);
            check("cublasLtMatrixLayoutSetAttribute(stride)",
                    (int) layoutSet.invokeExact(l, LAYOUT_STRIDED_BATCH_OFFSET, stride, 8L));
        }
        return l;
    }

    private static void setInt(MemorySegment desc, int attribute, int value, Arena arena, MethodHandle set)
            throws Throwable {
        MemorySegment v = arena.allocate(JAVA_INT);
        v.set(JAVA_INT, 0, value);
        check("cublasLtMatmulDescSetAttribute(" + attribute + ")", (int) set.invokeExact(desc, attribute, v, 4L));
    }

    @FunctionalInterface
    private interface Creator {
        int create(MemorySegment out) throws Throwable;
    }

    private static MemorySegment out(Arena arena, Creator c, String call) throws Throwable {
        MemorySegment p = arena.allocate(ADDRESS);
        check(call, c.create(p));
        return p.get(ADDRESS, 0);
    }

    private static void destroy(MethodHandle h, MemorySegment s) throws Throwable {
        int ignored = (int) h.invokeExact(s);
    }
}
