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
 * strided-batched matrix products in F32, BF16 and F16 with F32 accumulation (output in the input dtype), optionally
 * with a bias, GELU or bias+GELU epilogue (and the pre-GELU values as an auxiliary output). Row-major operands are
 * handed to the column-major library as their transposes (C = A·B is computed as Cᵀ = Bᵀ·Aᵀ), so no data moves.
 * Each operand has its own leading dimension (row stride): cuBLASLt's fast kernels need 16-byte aligned pointers and
 * leading dimensions, not aligned m, n or k, so a row-pitched matrix (rows padded to a 16-byte multiple) whose row
 * length is odd is used in place.
 *
 * <p>Per problem (shape, dtype, transposes, epilogue, pointer alignments) a plan is built once and cached: descriptors,
 * layouts and the algorithm. The algorithm: cuBLASLt's heuristic is asked for up to {@value #CANDIDATES} candidates,
 * and, unless {@code -Dfulgur.cublaslt.autotune=false}, each is timed once on the real operands (into a scratch
 * output) and the fastest kept; with autotuning off the heuristic's first choice is used, as PyTorch does. Timing
 * can pick differently from one process to the next, and candidates may round differently (split-K, say): turn
 * autotuning off where two runs must give the same bits.
 * Workspace: {@link #WORKSPACE_BYTES}, 32 MiB (the size cuBLAS recommends for Hopper), or
 * {@code CUBLASLT_WORKSPACE_SIZE} KiB when that environment variable is set (PyTorch reads the same variable, so both can be given the same).
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
    private static final int DESC_EPILOGUE_AUX_POINTER = 11;
    private static final int DESC_EPILOGUE_AUX_LD = 12;
    private static final int LAYOUT_BATCH_COUNT = 5;
    private static final int LAYOUT_STRIDED_BATCH_OFFSET = 6;
    private static final int PREF_MAX_WORKSPACE_BYTES = 1;
    private static final int PREF_MIN_ALIGNMENT_A_BYTES = 5;   // then B, C, D: 6, 7, 8
    private static final int HEURISTIC_RESULT_BYTES = 96;   // algo (64) + workspaceSize + state + waves + reserved[4]
    private static final int HEURISTIC_STATE_OFFSET = 72;
    static final int EPILOGUE_DEFAULT = 1;
    static final int EPILOGUE_BIAS = 4;
    static final int EPILOGUE_GELU = 32;                   // tanh-form GELU, as GPT-2's
    static final int EPILOGUE_GELU_BIAS = 36;
    static final int EPILOGUE_GELU_AUX = 160;              // GELU, and its input written to the aux pointer
    static final int EPILOGUE_GELU_AUX_BIAS = 164;

    /** Heuristic results asked for per plan (the candidates the autotuner times). */
    static final int CANDIDATES = 8;
    /** Timed calls per candidate when autotuning (after one untimed call). */
    private static final int TUNING_CALLS = 3;

    static final long WORKSPACE_BYTES = workspaceBytes();

    private static final boolean AUTOTUNE = !"false".equals(System.getProperty("fulgur.cublaslt.autotune"));

    /** 32 MiB, or CUBLASLT_WORKSPACE_SIZE KiB (PyTorch's variable and unit) when set. */
    private static long workspaceBytes() {
        String kib = System.getenv("CUBLASLT_WORKSPACE_SIZE");
        if (kib != null && !kib.isBlank()) {
            try {
                return Math.max(0, Long.parseLong(kib.trim())) * 1024;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("CUBLASLT_WORKSPACE_SIZE must be a number of KiB, got '" + kib
                        + "'");
            }
        }
        return 32L << 20;
    }

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
     * Descriptors, layouts and the chosen algorithm of one problem, created once: building them per call costs tens of
     * microseconds of host time, as long as a 4096³ bf16 product takes on an H100. {@code tuning} says how the
     * algorithm was chosen.
     */
    private record Plan(MemorySegment desc, MemorySegment la, MemorySegment lb, MemorySegment ld, MemorySegment algo,
            MemorySegment alpha, MemorySegment beta, MemorySegment pointerSlot, String tuning) {}

    private final ConcurrentHashMap<String, Plan> plans = new ConcurrentHashMap<>();
    /** Problems the heuristic found no algorithm for (asked once; the next call fails fast). */
    private final java.util.Set<String> unsupported = ConcurrentHashMap.newKeySet();

    /** The heuristic has no algorithm for a problem (an epilogue some dtype or shape lacks, say). */
    static final class NoAlgorithmException extends CudaException {
        NoAlgorithmException(String message) {
            super(message);
        }
    }

    /**
     * One row-major matrix operand (a batch of them): its address, leading dimension (elements from one stored row to
     * the next, at least the stored row length) and batch stride (elements; 0 shares one matrix over the batch).
     */
    record Matrix(long address, long ld, long batchStride) {}

    /** The problem's operands: the three matrices, epilogue extras (0 when absent). */
    private record Operands(Matrix a, Matrix b, Matrix d, long bias, long aux) {}

    /** {@link #matmul(CudaDevice, DType, long, long, long, long, Matrix, boolean, Matrix, boolean, Matrix, float,
     * float, long, long, int, long)} without an auxiliary output. */
    void matmul(CudaDevice device, DType dtype, long batch, long m, long n, long k, Matrix a, boolean transA,
            Matrix b, boolean transB, Matrix d, float alpha, float beta, long bias, int epilogue, long workspace) {
        matmul(device, dtype, batch, m, n, k, a, transA, b, transB, d, alpha, beta, bias, 0, epilogue, workspace);
    }

    /**
     * Row-major D (batch, m, n) = alpha·op(A)·op(B) + beta·D, with A stored (batch, m, k) — or (batch, k, m) when
     * transA — and B stored (batch, k, n) — or (batch, n, k) when transB —, each matrix by rows at its
     * {@link Matrix#ld}; a batch stride of 0 broadcasts. {@code bias} (n), when not 0, is added per output column,
     * followed by tanh-GELU when {@code epilogue} says so; with {@link #EPILOGUE_GELU_AUX_BIAS} or
     * {@link #EPILOGUE_GELU_AUX}, {@code aux} (batch 1, m × n row-major and contiguous, n a multiple of 8) receives
     * the GELU's input.
     */
    void matmul(CudaDevice device, DType dtype, long batch, long m, long n, long k, Matrix a, boolean transA,
            Matrix b, boolean transB, Matrix d, float alpha, float beta, long bias, long aux, int epilogue,
            long workspace) {
        device.enter();
        Operands ops = new Operands(a, b, d, bias, aux);
        // alignments are part of the problem: the heuristic picks kernels for the alignment it is told about
        String key = device.index() + ":" + dtype + ":" + batch + ":" + m + ":" + n + ":" + k + ":" + transA + ":"
                + transB + ":" + a.ld() + ":" + b.ld() + ":" + d.ld() + ":" + a.batchStride() + ":" + b.batchStride()
                + ":" + d.batchStride() + ":" + epilogue + ":" + alignment(a.address()) + ":"
                + alignment(b.address()) + ":" + alignment(d.address()) + ":" + alignment(bias) + ":"
                + alignment(aux);
        if (unsupported.contains(key)) {
            throw new NoAlgorithmException("cuBLASLt has no algorithm for " + key);
        }
        Plan plan;
        try {
            plan = plans.computeIfAbsent(key, x -> plan(device, dtype, batch, m, n, k, ops, transA, transB, epilogue,
                    workspace));
        } catch (NoAlgorithmException e) {
            unsupported.add(key);
            throw e;
        }
        synchronized (plan) {
            try {
                plan.alpha().set(java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, alpha);
                plan.beta().set(java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, beta);
                setPointers(plan, epilogue, bias, aux);
                boolean profiled = KernelProfiler.active;
                if (profiled) {
                    KernelProfiler.before(device, profileName(dtype, batch, m, n, k, transA, transB, beta, epilogue)
                            + pitches(m, n, k, ops, transA, transB));
                }
                int status = run(device, plan, plan.algo(), a.address(), b.address(), d.address(), workspace);
                if (profiled) {
                    KernelProfiler.after(device);
                }
                check("cublasLtMatmul(" + dtype + ", batch " + batch + ", m " + m + ", n " + n + ", k " + k
                        + ", epilogue " + epilogue + ")", status);
            } catch (CudaException e) {
                throw e;
            } catch (Throwable t) {
                throw new CudaException("cublasLtMatmul failed", t);
            }
        }
    }

    /** The {@link KernelProfiler} row of a matmul: dtype, shape, transposes, accumulation and epilogue. */
    private static String profileName(DType dtype, long batch, long m, long n, long k, boolean transA,
            boolean transB, float beta, int epilogue) {
        String ep = switch (epilogue) {
            case EPILOGUE_DEFAULT -> "";
            case EPILOGUE_BIAS -> " +bias";
            case EPILOGUE_GELU -> " gelu";
            case EPILOGUE_GELU_BIAS -> " +bias gelu";
            case EPILOGUE_GELU_AUX -> " gelu(aux)";
            case EPILOGUE_GELU_AUX_BIAS -> " +bias gelu(aux)";
            default -> " epilogue " + epilogue;
        };
        return "cublasLt " + dtype.name().toLowerCase(java.util.Locale.ROOT) + " " + (transA ? "T" : "N")
                + (transB ? "T" : "N") + " " + (batch == 1 ? "" : batch + "x") + m + "x" + n + "x" + k
                + (beta != 0 ? " +=D" : "") + ep;
    }

    /**
     * The profiler's note of leading dimensions that differ from the stored row length (row-pitched operands), such
     * as " ldd=50264"; empty for contiguous operands, so their rows keep their names.
     */
    private static String pitches(long m, long n, long k, Operands ops, boolean transA, boolean transB) {
        String s = "";
        if (ops.a().ld() != (transA ? m : k)) {
            s += " lda=" + ops.a().ld();
        }
        if (ops.b().ld() != (transB ? k : n)) {
            s += " ldb=" + ops.b().ld();
        }
        if (ops.d().ld() != n) {
            s += " ldd=" + ops.d().ld();
        }
        return s;
    }

    /** How each cached plan's algorithm was chosen, one line per plan (for benchmarks' logs). */
    java.util.List<String> planReports() {
        java.util.List<String> out = new java.util.ArrayList<>();
        plans.forEach((key, plan) -> out.add(key + " -> " + plan.tuning()));
        java.util.Collections.sort(out);
        return out;
    }

    private static boolean usesBias(int epilogue) {
        return (epilogue & EPILOGUE_BIAS) != 0;
    }

    private static boolean usesAux(int epilogue) {
        return epilogue == EPILOGUE_GELU_AUX || epilogue == EPILOGUE_GELU_AUX_BIAS;
    }

    /** Points the plan's descriptor at this call's bias and aux buffers. */
    private void setPointers(Plan plan, int epilogue, long bias, long aux) throws Throwable {
        if (usesBias(epilogue)) {
            plan.pointerSlot().set(JAVA_LONG, 0, bias);
            check("cublasLtMatmulDescSetAttribute(bias)",
                    (int) descSet.invokeExact(plan.desc(), DESC_BIAS_POINTER, plan.pointerSlot(), 8L));
        }
        if (usesAux(epilogue)) {
            plan.pointerSlot().set(JAVA_LONG, 0, aux);
            check("cublasLtMatmulDescSetAttribute(aux)",
                    (int) descSet.invokeExact(plan.desc(), DESC_EPILOGUE_AUX_POINTER, plan.pointerSlot(), 8L));
        }
    }

    /** One cublasLtMatmul on the device's stream (D is also C); returns the cublasStatus. */
    private int run(CudaDevice device, Plan plan, MemorySegment algo, long a, long b, long d, long workspace)
            throws Throwable {
        return (int) matmul.invokeExact(handleFor(device), plan.desc(), plan.alpha(),
                MemorySegment.ofAddress(b), plan.lb(), MemorySegment.ofAddress(a), plan.la(), plan.beta(),
                MemorySegment.ofAddress(d), plan.ld(), MemorySegment.ofAddress(d), plan.ld(), algo,
                MemorySegment.ofAddress(workspace), WORKSPACE_BYTES,
                MemorySegment.ofAddress(device.stream().address()));
    }

    /** The largest power of two, at most 256, that divides {@code address} (256 for 0: no pointer). */
    static int alignment(long address) {
        if (address == 0) {
            return 256;
        }
        return (int) Math.min(256, Long.lowestOneBit(address));
    }

    /** Builds the descriptors (in memory that lives as long as the process) and picks the algorithm. */
    private Plan plan(CudaDevice device, DType dtype, long batch, long m, long n, long k, Operands ops,
            boolean transA, boolean transB, int epilogue, long workspace) {
        int type = dataType(dtype);
        Arena arena = Arena.global();
        try {
            // column-major view: Dᵀ (n × m) = op(B)ᵀ (n × k) · op(A)ᵀ (k × m)
            MemorySegment desc = out(arena, p -> (int) descCreate.invokeExact(p, COMPUTE_32F, CUDA_R_32F),
                    "cublasLtMatmulDescCreate");
            setInt(desc, DESC_TRANSA, transB ? OP_T : OP_N, arena, descSet);
            setInt(desc, DESC_TRANSB, transA ? OP_T : OP_N, arena, descSet);
            MemorySegment pointerSlot = arena.allocate(JAVA_LONG);
            if (epilogue != EPILOGUE_DEFAULT) {
                setInt(desc, DESC_EPILOGUE, epilogue, arena, descSet);
            }
            if (usesAux(epilogue)) {
                // the aux matrix is laid out as D: column-major n × m, leading dimension n
                MemorySegment auxLd = arena.allocate(JAVA_LONG);
                auxLd.set(JAVA_LONG, 0, n);
                check("cublasLtMatmulDescSetAttribute(aux ld)",
                        (int) descSet.invokeExact(desc, DESC_EPILOGUE_AUX_LD, auxLd, 8L));
            }
            // B as the first operand: stored (k, n) row-major = col-major n × k (ld n); transposed: (n, k) row-major
            // (with their own leading dimensions: a row-pitched matrix's row stride, past its row length)
            MemorySegment lb = layout(arena, type, transB ? k : n, transB ? n : k, ops.b().ld(), batch,
                    ops.b().batchStride());
            MemorySegment la = layout(arena, type, transA ? m : k, transA ? k : m, ops.a().ld(), batch,
                    ops.a().batchStride());
            MemorySegment ld = layout(arena, type, n, m, ops.d().ld(), batch, ops.d().batchStride());
            MemorySegment alpha = arena.allocate(java.lang.foreign.ValueLayout.JAVA_FLOAT);
            MemorySegment beta = arena.allocate(java.lang.foreign.ValueLayout.JAVA_FLOAT);
            Plan untuned = new Plan(desc, la, lb, ld, null, alpha, beta, pointerSlot, null);
            // the heuristic reads the bias and aux pointers' alignment from the descriptor
            setPointers(untuned, epilogue, ops.bias(), ops.aux());
            MemorySegment candidates = candidates(device, arena, desc, lb, la, ld, ops, dtype, batch, m, n, k);
            int count = (int) (candidates.byteSize() / HEURISTIC_RESULT_BYTES);
            int chosen = 0;
            String tuning = "heuristic choice (1 candidate)";
            if (count > 1 && AUTOTUNE) {
                device.requireNotCapturing("cuBLASLt autotuning of a new GEMM shape (it times candidates with event "
                        + "syncs; run the step once eagerly before capturing it)");
                double[] ms = time(device, untuned, candidates, count, dtype, batch, m, n, ops, epilogue, workspace);
                for (int i = 1; i < count; i++) {
                    if (ms[i] < ms[chosen]) {
                        chosen = i;
                    }
                }
                tuning = String.format(java.util.Locale.ROOT,
                        "autotuned: candidate %d of %d, %.4f ms per call; heuristic's first %.4f ms", chosen, count,
                        ms[chosen], ms[0]);
            } else if (count > 1) {
                tuning = "heuristic choice (first of " + count + ", autotune off)";
            }
            MemorySegment algo = candidates.asSlice((long) chosen * HEURISTIC_RESULT_BYTES, HEURISTIC_RESULT_BYTES);
            return new Plan(desc, la, lb, ld, algo, alpha, beta, pointerSlot, tuning);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("building a cuBLASLt plan failed", t);
        }
    }

    /** The heuristic's usable results (state SUCCESS), best first, as one segment of HEURISTIC_RESULT_BYTES each. */
    private MemorySegment candidates(CudaDevice device, Arena arena, MemorySegment desc, MemorySegment lb,
            MemorySegment la, MemorySegment ld, Operands ops, DType dtype, long batch, long m, long n, long k)
            throws Throwable {
        MemorySegment pref = out(arena, p -> (int) prefCreate.invokeExact(p), "cublasLtMatmulPreferenceCreate");
        try {
            MemorySegment ws = arena.allocate(JAVA_LONG);
            ws.set(JAVA_LONG, 0, WORKSPACE_BYTES);
            check("cublasLtMatmulPreferenceSetAttribute",
                    (int) prefSet.invokeExact(pref, PREF_MAX_WORKSPACE_BYTES, ws, 8L));
            // library A is our B, library B our A, C and D are D
            long[] aligned = {ops.b().address(), ops.a().address(), ops.d().address(), ops.d().address()};
            for (int i = 0; i < aligned.length; i++) {
                MemorySegment bytes = arena.allocate(JAVA_INT);
                bytes.set(JAVA_INT, 0, alignment(aligned[i]));
                check("cublasLtMatmulPreferenceSetAttribute(alignment)",
                        (int) prefSet.invokeExact(pref, PREF_MIN_ALIGNMENT_A_BYTES + i, bytes, 4L));
            }
            MemorySegment results = arena.allocate((long) CANDIDATES * HEURISTIC_RESULT_BYTES, 8);
            MemorySegment count = arena.allocate(JAVA_INT);
            check("cublasLtMatmulAlgoGetHeuristic", (int) heuristic.invokeExact(handleFor(device), desc, lb, la, ld,
                    ld, pref, CANDIDATES, results, count));
            int usable = 0;
            for (int i = 0; i < count.get(JAVA_INT, 0); i++) {
                MemorySegment r = results.asSlice((long) i * HEURISTIC_RESULT_BYTES, HEURISTIC_RESULT_BYTES);
                if (r.get(JAVA_INT, HEURISTIC_STATE_OFFSET) == 0) {
                    MemorySegment.copy(r, 0, results, (long) usable * HEURISTIC_RESULT_BYTES, HEURISTIC_RESULT_BYTES);
                    usable++;
                }
            }
            if (usable < 1) {
                throw new NoAlgorithmException("cuBLASLt found no algorithm for " + dtype + " batch " + batch + " m "
                        + m + " n " + n + " k " + k);
            }
            return results.asSlice(0, (long) usable * HEURISTIC_RESULT_BYTES);
        } finally {
            destroy(prefDestroy, pref);
        }
    }

    /**
     * Milliseconds per call of each candidate on the real inputs, writing into scratch D (and aux) so the caller's
     * output is untouched: one untimed call, then {@value #TUNING_CALLS} back-to-back calls between two events.
     * A candidate that fails to run gets +∞.
     */
    private double[] time(CudaDevice device, Plan plan, MemorySegment candidates, int count, DType dtype, long batch,
            long m, long n, Operands ops, int epilogue, long workspace) throws Throwable {
        long outBytes = ((batch - 1) * ops.d().batchStride() + m * ops.d().ld()) * dtype.byteSize();
        double[] ms = new double[count];
        // 256 bytes spare: the scratch pointers sit at the real ones' offset within 256 bytes, so in the same alignment
        try (CudaStorage scratchD = new CudaStorage(device, DType.U8, outBytes + 256);
                CudaStorage scratchAux = new CudaStorage(device, DType.U8, usesAux(epilogue) ? outBytes + 256 : 1)) {
            plan.alpha().set(java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, 1f);
            plan.beta().set(java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, 0f);
            long d = scratchD.address(0) + (ops.d().address() & 255);
            setPointers(plan, epilogue, ops.bias(), scratchAux.address(0) + (ops.aux() & 255));
            jcuda.driver.CUevent start = new jcuda.driver.CUevent();
            jcuda.driver.CUevent end = new jcuda.driver.CUevent();
            jcuda.driver.JCudaDriver.cuEventCreate(start, 0);
            jcuda.driver.JCudaDriver.cuEventCreate(end, 0);
            try {
                float[] elapsed = {0};
                for (int i = 0; i < count; i++) {
                    MemorySegment algo = candidates.asSlice((long) i * HEURISTIC_RESULT_BYTES,
                            HEURISTIC_RESULT_BYTES);
                    if (run(device, plan, algo, ops.a().address(), ops.b().address(), d, workspace) != 0) {
                        ms[i] = Double.POSITIVE_INFINITY;
                        continue;
                    }
                    jcuda.driver.JCudaDriver.cuEventRecord(start, device.stream());
                    int status = 0;
                    for (int c = 0; c < TUNING_CALLS && status == 0; c++) {
                        status = run(device, plan, algo, ops.a().address(), ops.b().address(), d, workspace);
                    }
                    jcuda.driver.JCudaDriver.cuEventRecord(end, device.stream());
                    jcuda.driver.JCudaDriver.cuEventSynchronize(end);
                    jcuda.driver.JCudaDriver.cuEventElapsedTime(elapsed, start, end);
                    ms[i] = status == 0 ? elapsed[0] / TUNING_CALLS : Double.POSITIVE_INFINITY;
                }
            } finally {
                jcuda.driver.JCudaDriver.cuEventDestroy(start);
                jcuda.driver.JCudaDriver.cuEventDestroy(end);
            }
        }
        return ms;
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
