package ai.fulgur.ops.cpu;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.linalg.LinalgKernels;
import ai.fulgur.ops.linalg.LinearEpilogue;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The CPU matrix product in pure Java: out (B, M, N) = alpha · op(a) · op(b) (+ out when accumulating), with the shapes
 * and layouts of {@link LinalgKernels#matmul}.
 *
 * <p>One path per dtype family:
 * <ul>
 *   <li>F32: a cache-blocked product in the Goto/BLIS arrangement. A KC × NC panel of op(b) is packed into strips of
 *       NR columns and shared by all threads; each thread packs an MC × KC block of op(a) into strips of MR rows and
 *       runs an MR × NR register-blocked micro-kernel over the strips. Packing absorbs the four transpose combinations
 *       and pads edge tiles with zeros, so the micro-kernel sees a single layout. The micro-kernel is written with
 *       {@code jdk.incubator.vector} (6 rows × 2 vectors of FMA accumulators); a scalar micro-kernel over the same
 *       packed panels stands in when that module is not loaded or when asked for (see {@link #F32_KERNEL_PROPERTY}).
 *   <li>F64: a plain blocked loop (a block of op(b) packed row-major, i-k-j order), accumulating in double.
 *   <li>BF16 and F16: widened to F32 arrays, computed on the F32 path, rounded back on store.
 * </ul>
 * {@link #matmulNaive} is the triple loop the others are tested against, kept beside them as the readable reference.
 *
 * <p>Work is split with {@link CpuParallel}: over blocks of M rows for large matrices, over the batch for many small
 * ones. F32 accumulates in F32 (as the contract says), so results differ from the double reference by rounding only.
 *
 * <p>Why the Vector API path is the default: on the 2-core AVX-512 Xeon of docs/PERF.md, one thread, square F32 of
 * n = 512, 1024, 2048, it ran at 108, 99 and 90 GFLOP/s (the bare micro-kernel loop peaks near 132), the scalar
 * micro-kernel on the same packed panels at 6.7, 6.8 and 6.5 GFLOP/s (C2 does not vectorise it).
 */
public final class CpuMatmul implements LinalgKernels {

    /**
     * System property choosing the F32 micro-kernel: {@code vector} (the default when {@code jdk.incubator.vector} is
     * loaded) or {@code scalar}. Read when a {@code CpuMatmul} is constructed.
     */
    public static final String F32_KERNEL_PROPERTY = "fulgur.matmul.f32.kernel";

    /** Rows of op(a) per micro-tile. */
    static final int MR = 6;
    /**
     * Columns of op(b) per micro-tile: two vectors of the preferred species (32 floats with AVX-512, 16 with AVX2);
     * 16 when the Vector API is absent.
     */
    static final int NR;
    /** Depth of a packed panel: a KC × NR strip of op(b) (32 KiB at NR = 32) stays in L1 while strips of op(a) pass. */
    static final int KC = 256;
    /** Most rows in a packed block of op(a): MC × KC floats (144 KiB) stay in L2. */
    static final int MC_MAX = 144;
    /** Columns in a packed panel of op(b): KC × NC floats (2 MiB) stay in L2/L3 while every block of op(a) passes. */
    static final int NC = 2048;
    /**
     * Below this many multiply-adds (about 20 µs of work) a product runs on the calling thread: waking the fork-join
     * workers would cost as much as it saves.
     */
    static final long PARALLEL_MIN_WORK = 1L << 20;

    // The F64 blocked loop: F64_ROWS rows of out per task, an F64_KC × F64_NC block of op(b) packed row-major (512 KiB).
    static final int F64_ROWS = 64;
    static final int F64_KC = 128;
    static final int F64_NC = 512;

    private static final boolean VECTOR_MODULE = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    static {
        // Touch VectorMicroKernel only when the module is there: its class would fail to load otherwise.
        NR = VECTOR_MODULE ? 2 * VectorMicroKernel.LANES : 16;
    }

    private final boolean vectorF32;

    /** A kernel set using the Vector API micro-kernel for F32 when available (see {@link #F32_KERNEL_PROPERTY}). */
    public CpuMatmul() {
        String kernel = System.getProperty(F32_KERNEL_PROPERTY, "vector");
        if (!kernel.equals("vector") && !kernel.equals("scalar")) {
            throw new IllegalArgumentException(F32_KERNEL_PROPERTY + " must be 'vector' or 'scalar', got '" + kernel + "'");
        }
        this.vectorF32 = VECTOR_MODULE && kernel.equals("vector");
    }

    /** Whether F32 products use the Vector API micro-kernel (false: the scalar one). */
    public boolean usesVectorKernel() {
        return vectorF32;
    }

    // out (B, M, N); a (B, M, K) or (B, K, M) if transA; b (B, K, N) or (B, N, K) if transB
    @Override
    public void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, double alpha, boolean accumulate) {
        Dims d = Dims.of(out, a, b, transA, transB);
        switch (out.dtype()) {
            case F32 -> matmulF32(out, a, b, d, (float) alpha, accumulate);
            case F64 -> matmulF64(out, a, b, d, alpha, accumulate);
            case BF16, F16 -> matmulHalf(out, a, b, d, alpha, accumulate);
            default -> throw new IllegalArgumentException("matmul: dtype " + out.dtype()
                    + " is not floating (F32, F64, BF16 or F16)");
        }
    }

    // out (M, N); x (M, K); weight (N, K); bias (N) or null; preActivation (M, N) or null
    @Override
    public void linear(Tensor out, Tensor x, Tensor weight, Tensor bias, LinearEpilogue epilogue,
            Tensor preActivation) {
        if (!out.dtype().isFloating()) {
            throw new IllegalArgumentException("linear: dtype " + out.dtype()
                    + " is not floating (F32, F64, BF16 or F16)");
        }
        CpuLinear.linear(this, out, x, weight, bias, epilogue, preActivation);
    }

    /**
     * Sizes and layout of one call. op(a) is M × K with element (i, p) at {@code i·aRowStride + p·aColStride} from the
     * start of its matrix; op(b) is K × N with (p, j) at {@code p·bRowStride + j·bColStride}; out (i, j) is at
     * {@code i·cRowStride + j}. Each stored matrix's row stride is its tensor's (a row-pitched operand has one larger
     * than its row length). Batch strides are in elements, 0 for a matrix shared by the whole batch.
     */
    record Dims(int batch, int m, int n, int k, int aRowStride, int aColStride, int bRowStride, int bColStride,
            int aBatchStride, int bBatchStride, int cRowStride, int cBatchStride) {

        static Dims of(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB) {
            int batch = Math.toIntExact(out.shape().dim(0));
            int m = Math.toIntExact(out.shape().dim(1));
            int n = Math.toIntExact(out.shape().dim(2));
            int k = Math.toIntExact(transA ? a.shape().dim(1) : a.shape().dim(2));
            // a is (M, K) by rows (row stride lda), so op(a)(i, p) = a[i·lda + p]; transposed, a is (K, M) and
            // op(a)(i, p) = a[p·lda + i]
            int lda = rowStride(a);
            int aRow = transA ? 1 : lda;
            int aCol = transA ? lda : 1;
            // b is (K, N) by rows, so op(b)(p, j) = b[p·ldb + j]; transposed, b is (N, K) and op(b)(p, j) = b[j·ldb + p]
            int ldb = rowStride(b);
            int bRow = transB ? 1 : ldb;
            int bCol = transB ? ldb : 1;
            int ldc = rowStride(out);
            return new Dims(batch, m, n, k, aRow, aCol, bRow, bCol, batchStride(a), batchStride(b), ldc,
                    batch == 1 ? m * ldc : Math.toIntExact(out.stride(0)));
        }

        /** The row stride of a (B, rows, cols) matrix stored by rows; the row length when there is one row. */
        private static int rowStride(Tensor t) {
            return Math.toIntExact(t.shape().dim(1) <= 1 ? t.shape().dim(2) : t.stride(1));
        }

        /** 0 when one matrix serves every batch entry (a batch of 1, or stride 0), else the stride of axis 0. */
        private static int batchStride(Tensor t) {
            return t.shape().dim(0) == 1 ? 0 : Math.toIntExact(t.stride(0));
        }

        /** Whether out is contiguous (row stride N, batch stride M·N). */
        boolean contiguousOut() {
            return cRowStride == n && (batch == 1 || cBatchStride == m * n);
        }

        /** The same call into a contiguous out. */
        Dims withContiguousOut() {
            return new Dims(batch, m, n, k, aRowStride, aColStride, bRowStride, bColStride, aBatchStride,
                    bBatchStride, n, m * n);
        }

        /** Multiply-adds in one batch entry. */
        long work() {
            return (long) m * n * k;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // reference

    /**
     * The readable reference: out (B, M, N) = alpha · op(a) · op(b) (+ out), a triple loop accumulating in double,
     * for every floating dtype through {@link CpuStorage#get}/{@link CpuStorage#set}. Slow; for tests and checks.
     */
    static void matmulNaive(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, double alpha,
            boolean accumulate) {
        Dims d = Dims.of(out, a, b, transA, transB);
        CpuStorage cs = out.cpu();
        CpuStorage as = a.cpu();
        CpuStorage bs = b.cpu();
        for (int bi = 0; bi < d.batch; bi++) {
            int aBase = Math.toIntExact(a.offset()) + bi * d.aBatchStride;
            int bBase = Math.toIntExact(b.offset()) + bi * d.bBatchStride;
            int cBase = Math.toIntExact(out.offset()) + bi * d.cBatchStride;
            for (int i = 0; i < d.m; i++) {
                for (int j = 0; j < d.n; j++) {
                    double sum = 0;
                    for (int p = 0; p < d.k; p++) {
                        sum += as.get(aBase + i * d.aRowStride + p * d.aColStride)
                                * bs.get(bBase + p * d.bRowStride + j * d.bColStride);
                    }
                    int ci = cBase + i * d.cRowStride + j;
                    cs.set(ci, alpha * sum + (accumulate ? cs.get(ci) : 0));
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // F32: packed panels and a register-blocked micro-kernel

    private void matmulF32(Tensor out, Tensor a, Tensor b, Dims d, float alpha, boolean accumulate) {
        float[] c = out.cpu().f32();
        float[] av = a.cpu().f32();
        float[] bv = b.cpu().f32();
        int cOff = Math.toIntExact(out.offset());
        int aOff = Math.toIntExact(a.offset());
        int bOff = Math.toIntExact(b.offset());
        int threads = CpuParallel.threads();
        // Many small products: one thread per batch entry, no synchronisation inside. Otherwise one product at a
        // time, its rows split over the threads. Batches that are not a multiple of the threads and hold large
        // matrices take the second way, which keeps every thread busy to the end.
        boolean overBatch = d.batch > 1
                && (d.batch % threads == 0 || d.batch >= 4 * threads || d.m < 2 * MR * threads);
        if (overBatch) {
            int grain = (int) Math.max(1, PARALLEL_MIN_WORK / Math.max(1, d.work()));
            CpuParallel.forRange(d.batch, grain, (from, to) -> {
                for (int bi = from; bi < to; bi++) {
                    gemmF32(c, cOff + bi * d.cBatchStride, av, aOff + bi * d.aBatchStride, bv, bOff + bi * d.bBatchStride,
                            d, alpha, !accumulate, false);
                }
            });
        } else {
            for (int bi = 0; bi < d.batch; bi++) {
                gemmF32(c, cOff + bi * d.cBatchStride, av, aOff + bi * d.aBatchStride, bv, bOff + bi * d.bBatchStride, d,
                        alpha, !accumulate, true);
            }
        }
    }

    /**
     * One product: c (M, N) by rows (row stride d.cRowStride) at cOff = (overwrite) or += alpha · op(a) (M, K) · op(b) (K, N), the operands
     * addressed through {@link Dims} from aOff and bOff. With {@code parallel}, blocks of rows go to the threads.
     */
    private void gemmF32(float[] c, int cOff, float[] a, int aOff, float[] b, int bOff, Dims d, float alpha,
            boolean overwrite, boolean parallel) {
        int m = d.m;
        int n = d.n;
        int k = d.k;
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0) {
            if (overwrite) {
                for (int i = 0; i < m; i++) {
                    Arrays.fill(c, cOff + i * d.cRowStride, cOff + i * d.cRowStride + n, 0f);
                }
            }
            return;
        }
        // Split M into blocks of at most MC_MAX rows, a multiple of MR each; when threads share the product, make the
        // block count a multiple of the thread count so no thread gets one block more than another.
        boolean split = parallel && CpuParallel.threads() > 1 && d.work() >= PARALLEL_MIN_WORK;
        int blocks = ceilDiv(m, MC_MAX);
        if (split) {
            blocks = roundUp(blocks, CpuParallel.threads());
        }
        blocks = Math.min(blocks, ceilDiv(m, MR));
        int mc = roundUp(ceilDiv(m, blocks), MR);
        int mBlocks = ceilDiv(m, mc);

        float[] bPack = new float[Math.min(k, KC) * roundUp(Math.min(n, NC), NR)];
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc);
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                packB(bPack, b, bOff + pc * d.bRowStride + jc * d.bColStride, d.bRowStride, d.bColStride, kc, nc,
                        split);
                // The first depth panel overwrites c (unless accumulating); later ones add to it.
                boolean first = overwrite && pc == 0;
                int aPanel = aOff + pc * d.aColStride;
                int cPanel = cOff + jc;
                CpuParallel.RangeBody rowBlocks = (from, to) -> {
                    float[] aPack = new float[mc * kc];
                    float[] edge = new float[MR * NR];
                    for (int blk = from; blk < to; blk++) {
                        int i0 = blk * mc;
                        int rows = Math.min(mc, m - i0);
                        packA(aPack, a, aPanel + i0 * d.aRowStride, d.aRowStride, d.aColStride, rows, kc);
                        macroKernel(c, cPanel + i0 * d.cRowStride, d.cRowStride, aPack, rows, bPack, nc, kc, alpha, first, edge);
                    }
                };
                if (split && mBlocks > 1) {
                    CpuParallel.forRange(mBlocks, 1, rowBlocks);
                } else {
                    rowBlocks.run(0, mBlocks);
                }
            }
        }
    }

    /**
     * Packs op(b)[p0 : p0+kc, j0 : j0+nc] (src = its first element) into strips of NR columns: strip t holds kc rows of
     * NR floats, {@code bPack[t·NR·kc + p·NR + jj] = op(b)(p0 + p, j0 + t·NR + jj)}, zero past column nc.
     */
    private static void packB(float[] bPack, float[] b, int src, int rowStride, int colStride, int kc, int nc,
            boolean parallel) {
        int strips = ceilDiv(nc, NR);
        CpuParallel.RangeBody pack = (from, to) -> {
            for (int t = from; t < to; t++) {
                int dst = t * NR * kc;
                int j0 = t * NR;
                int cols = Math.min(NR, nc - j0);
                if (colStride == 1) {
                    // b not transposed: each row of the strip is a contiguous run of b
                    for (int p = 0; p < kc; p++) {
                        System.arraycopy(b, src + p * rowStride + j0, bPack, dst + p * NR, cols);
                    }
                } else {
                    // b transposed: each column of the strip is a contiguous run of b, read it in order
                    for (int jj = 0; jj < cols; jj++) {
                        int s = src + (j0 + jj) * colStride;
                        for (int p = 0; p < kc; p++) {
                            bPack[dst + p * NR + jj] = b[s + p * rowStride];
                        }
                    }
                }
                if (cols < NR) {
                    for (int p = 0; p < kc; p++) {
                        Arrays.fill(bPack, dst + p * NR + cols, dst + (p + 1) * NR, 0f);
                    }
                }
            }
        };
        if (parallel && strips > 1) {
            CpuParallel.forRange(strips, 4, pack);
        } else {
            pack.run(0, strips);
        }
    }

    /**
     * Packs op(a)[i0 : i0+rows, p0 : p0+kc] (src = its first element) into strips of MR rows: strip s holds kc columns
     * of MR floats, {@code aPack[s·MR·kc + p·MR + r] = op(a)(i0 + s·MR + r, p0 + p)}, zero past row {@code rows}.
     */
    private static void packA(float[] aPack, float[] a, int src, int rowStride, int colStride, int rows, int kc) {
        for (int i0 = 0; i0 < rows; i0 += MR) {
            int dst = i0 * kc;
            int strip = Math.min(MR, rows - i0);
            if (colStride == 1) {
                // a not transposed: each row is contiguous in a
                for (int r = 0; r < strip; r++) {
                    int s = src + (i0 + r) * rowStride;
                    for (int p = 0; p < kc; p++) {
                        aPack[dst + p * MR + r] = a[s + p];
                    }
                }
            } else {
                // a transposed: MR consecutive rows of op(a) are contiguous in a
                for (int p = 0; p < kc; p++) {
                    int s = src + i0 * rowStride + p * colStride;
                    for (int r = 0; r < strip; r++) {
                        aPack[dst + p * MR + r] = a[s + r * rowStride];
                    }
                }
            }
            for (int r = strip; r < MR; r++) {
                for (int p = 0; p < kc; p++) {
                    aPack[dst + p * MR + r] = 0f;
                }
            }
        }
    }

    /**
     * c[0 : rows, 0 : nc] (row stride ldc, from cBase) = or += alpha · (packed a block) · (packed b panel), one
     * MR × NR tile at a time; each NR-column strip of b stays in L1 while the MR-row strips of a pass.
     */
    private void macroKernel(float[] c, int cBase, int ldc, float[] aPack, int rows, float[] bPack, int nc, int kc,
            float alpha, boolean overwrite, float[] edge) {
        for (int j0 = 0; j0 < nc; j0 += NR) {
            int cols = Math.min(NR, nc - j0);
            for (int i0 = 0; i0 < rows; i0 += MR) {
                int tileRows = Math.min(MR, rows - i0);
                int ci = cBase + i0 * ldc + j0;
                if (vectorF32) {
                    VectorMicroKernel.tile(aPack, i0 * kc, bPack, j0 * kc, kc, c, ci, ldc, tileRows, cols, alpha,
                            overwrite, edge);
                } else {
                    scalarTile(aPack, i0 * kc, bPack, j0 * kc, kc, c, ci, ldc, tileRows, cols, alpha, overwrite);
                }
            }
        }
    }

    /**
     * The scalar micro-kernel over the same packed strips as the vector one: for each pair of columns of the NR-wide
     * strip, 6 × 2 scalar accumulators live in registers across the whole depth kc; then the first tileRows × cols
     * of the tile are stored into c (at ci, row stride ldc). Zero padding makes the extra rows and columns harmless.
     */
    private static void scalarTile(float[] aPack, int ai, float[] bPack, int bi, int kc, float[] c, int ci, int ldc,
            int tileRows, int cols, float alpha, boolean overwrite) {
        for (int j = 0; j < cols; j += 2) {
            float c00 = 0, c01 = 0, c10 = 0, c11 = 0, c20 = 0, c21 = 0;
            float c30 = 0, c31 = 0, c40 = 0, c41 = 0, c50 = 0, c51 = 0;
            for (int p = 0; p < kc; p++) {
                int pb = bi + p * NR + j;
                int pa = ai + p * MR;
                float b0 = bPack[pb];
                float b1 = bPack[pb + 1];
                float x = aPack[pa];
                c00 += x * b0;
                c01 += x * b1;
                x = aPack[pa + 1];
                c10 += x * b0;
                c11 += x * b1;
                x = aPack[pa + 2];
                c20 += x * b0;
                c21 += x * b1;
                x = aPack[pa + 3];
                c30 += x * b0;
                c31 += x * b1;
                x = aPack[pa + 4];
                c40 += x * b0;
                c41 += x * b1;
                x = aPack[pa + 5];
                c50 += x * b0;
                c51 += x * b1;
            }
            boolean second = j + 1 < cols;
            storePair(c, ci + j, c00, c01, second, alpha, overwrite);
            if (tileRows > 1) {
                storePair(c, ci + ldc + j, c10, c11, second, alpha, overwrite);
            }
            if (tileRows > 2) {
                storePair(c, ci + 2 * ldc + j, c20, c21, second, alpha, overwrite);
            }
            if (tileRows > 3) {
                storePair(c, ci + 3 * ldc + j, c30, c31, second, alpha, overwrite);
            }
            if (tileRows > 4) {
                storePair(c, ci + 4 * ldc + j, c40, c41, second, alpha, overwrite);
            }
            if (tileRows > 5) {
                storePair(c, ci + 5 * ldc + j, c50, c51, second, alpha, overwrite);
            }
        }
    }

    /** c[ci] and (if second) c[ci + 1] = or += alpha · (v0, v1). */
    private static void storePair(float[] c, int ci, float v0, float v1, boolean second, float alpha,
            boolean overwrite) {
        c[ci] = overwrite ? alpha * v0 : c[ci] + alpha * v0;
        if (second) {
            c[ci + 1] = overwrite ? alpha * v1 : c[ci + 1] + alpha * v1;
        }
    }

    /**
     * The Vector API micro-kernel: 6 rows × 2 vectors of accumulators (12 registers of 32 with AVX-512, of 16 with
     * AVX2), one broadcast of a and two loads of b per depth step. A full tile is stored straight from the registers;
     * an edge tile goes through {@code edge} (MR × NR floats) and is added element by element. Everything stays in
     * one method: passing vectors to a call C2 does not inline boxes them, which cost a factor of four here. Its own
     * class so that nothing touches {@code jdk.incubator.vector} when the module is not loaded.
     */
    private static final class VectorMicroKernel {
        static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
        static final int LANES = F.length();

        private VectorMicroKernel() {}

        // c tile (tileRows, cols) at ci, row stride ldc; aPack strip (kc, MR) at ai; bPack strip (kc, 2·LANES) at bi
        static void tile(float[] aPack, int ai, float[] bPack, int bi, int kc, float[] c, int ci, int ldc, int tileRows,
                int cols, float alpha, boolean overwrite, float[] edge) {
            FloatVector c00 = FloatVector.zero(F);
            FloatVector c01 = c00;
            FloatVector c10 = c00;
            FloatVector c11 = c00;
            FloatVector c20 = c00;
            FloatVector c21 = c00;
            FloatVector c30 = c00;
            FloatVector c31 = c00;
            FloatVector c40 = c00;
            FloatVector c41 = c00;
            FloatVector c50 = c00;
            FloatVector c51 = c00;
            int aEnd = ai + kc * MR;
            for (int pa = ai, pb = bi; pa < aEnd; pa += MR, pb += 2 * LANES) {
                FloatVector b0 = FloatVector.fromArray(F, bPack, pb);
                FloatVector b1 = FloatVector.fromArray(F, bPack, pb + LANES);
                FloatVector x = FloatVector.broadcast(F, aPack[pa]);
                c00 = x.fma(b0, c00);
                c01 = x.fma(b1, c01);
                x = FloatVector.broadcast(F, aPack[pa + 1]);
                c10 = x.fma(b0, c10);
                c11 = x.fma(b1, c11);
                x = FloatVector.broadcast(F, aPack[pa + 2]);
                c20 = x.fma(b0, c20);
                c21 = x.fma(b1, c21);
                x = FloatVector.broadcast(F, aPack[pa + 3]);
                c30 = x.fma(b0, c30);
                c31 = x.fma(b1, c31);
                x = FloatVector.broadcast(F, aPack[pa + 4]);
                c40 = x.fma(b0, c40);
                c41 = x.fma(b1, c41);
                x = FloatVector.broadcast(F, aPack[pa + 5]);
                c50 = x.fma(b0, c50);
                c51 = x.fma(b1, c51);
            }
            FloatVector scale = FloatVector.broadcast(F, alpha);
            int r1 = ci + ldc;
            int r2 = ci + 2 * ldc;
            int r3 = ci + 3 * ldc;
            int r4 = ci + 4 * ldc;
            int r5 = ci + 5 * ldc;
            int hi = LANES;
            if (tileRows == MR && cols == 2 * LANES && overwrite) {
                c00.mul(scale).intoArray(c, ci);
                c01.mul(scale).intoArray(c, ci + hi);
                c10.mul(scale).intoArray(c, r1);
                c11.mul(scale).intoArray(c, r1 + hi);
                c20.mul(scale).intoArray(c, r2);
                c21.mul(scale).intoArray(c, r2 + hi);
                c30.mul(scale).intoArray(c, r3);
                c31.mul(scale).intoArray(c, r3 + hi);
                c40.mul(scale).intoArray(c, r4);
                c41.mul(scale).intoArray(c, r4 + hi);
                c50.mul(scale).intoArray(c, r5);
                c51.mul(scale).intoArray(c, r5 + hi);
            } else if (tileRows == MR && cols == 2 * LANES) {
                c00.fma(scale, FloatVector.fromArray(F, c, ci)).intoArray(c, ci);
                c01.fma(scale, FloatVector.fromArray(F, c, ci + hi)).intoArray(c, ci + hi);
                c10.fma(scale, FloatVector.fromArray(F, c, r1)).intoArray(c, r1);
                c11.fma(scale, FloatVector.fromArray(F, c, r1 + hi)).intoArray(c, r1 + hi);
                c20.fma(scale, FloatVector.fromArray(F, c, r2)).intoArray(c, r2);
                c21.fma(scale, FloatVector.fromArray(F, c, r2 + hi)).intoArray(c, r2 + hi);
                c30.fma(scale, FloatVector.fromArray(F, c, r3)).intoArray(c, r3);
                c31.fma(scale, FloatVector.fromArray(F, c, r3 + hi)).intoArray(c, r3 + hi);
                c40.fma(scale, FloatVector.fromArray(F, c, r4)).intoArray(c, r4);
                c41.fma(scale, FloatVector.fromArray(F, c, r4 + hi)).intoArray(c, r4 + hi);
                c50.fma(scale, FloatVector.fromArray(F, c, r5)).intoArray(c, r5);
                c51.fma(scale, FloatVector.fromArray(F, c, r5 + hi)).intoArray(c, r5 + hi);
            } else {
                // edge (MR, NR) row-major, then only the tileRows × cols that lie inside c
                int nr = 2 * LANES;
                c00.intoArray(edge, 0);
                c01.intoArray(edge, hi);
                c10.intoArray(edge, nr);
                c11.intoArray(edge, nr + hi);
                c20.intoArray(edge, 2 * nr);
                c21.intoArray(edge, 2 * nr + hi);
                c30.intoArray(edge, 3 * nr);
                c31.intoArray(edge, 3 * nr + hi);
                c40.intoArray(edge, 4 * nr);
                c41.intoArray(edge, 4 * nr + hi);
                c50.intoArray(edge, 5 * nr);
                c51.intoArray(edge, 5 * nr + hi);
                for (int r = 0; r < tileRows; r++) {
                    int row = ci + r * ldc;
                    for (int j = 0; j < cols; j++) {
                        float v = alpha * edge[r * nr + j];
                        c[row + j] = overwrite ? v : c[row + j] + v;
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // F64: the plain blocked loop

    private static void matmulF64(Tensor out, Tensor a, Tensor b, Dims d, double alpha, boolean accumulate) {
        double[] c = out.cpu().f64();
        double[] av = a.cpu().f64();
        double[] bv = b.cpu().f64();
        int cOff = Math.toIntExact(out.offset());
        int aOff = Math.toIntExact(a.offset());
        int bOff = Math.toIntExact(b.offset());
        // tasks: (batch entry, block of F64_ROWS rows), each packing its own blocks of op(b)
        int rowBlocks = Math.max(1, ceilDiv(d.m, F64_ROWS));
        long taskWork = Math.max(1, (long) Math.min(d.m, F64_ROWS) * d.n * d.k);
        int grain = (int) Math.max(1, PARALLEL_MIN_WORK / taskWork);
        CpuParallel.forRange(d.batch * rowBlocks, grain, (from, to) -> {
            double[] bBlock = new double[Math.min(F64_KC, d.k) * Math.min(F64_NC, d.n)];
            for (int t = from; t < to; t++) {
                int bi = t / rowBlocks;
                int i0 = (t % rowBlocks) * F64_ROWS;
                int i1 = Math.min(d.m, i0 + F64_ROWS);
                blockedF64(c, cOff + bi * d.cBatchStride, av, aOff + bi * d.aBatchStride, bv, bOff + bi * d.bBatchStride, d,
                        i0, i1, alpha, accumulate, bBlock);
            }
        });
    }

    /**
     * Rows [i0, i1) of c (M, N, row stride d.cRowStride) = or += alpha · op(a) · op(b). A KC × NC block of op(b) is copied row-major into
     * bBlock so the inner loop runs along contiguous rows of both c and the block, whatever the transposition.
     */
    static void blockedF64(double[] c, int cOff, double[] a, int aOff, double[] b, int bOff, Dims d, int i0, int i1,
            double alpha, boolean accumulate, double[] bBlock) {
        int n = d.n;
        int ldc = d.cRowStride;
        if (!accumulate) {
            for (int i = i0; i < i1; i++) {
                Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0.0);
            }
        }
        for (int jc = 0; jc < n; jc += F64_NC) {
            int nc = Math.min(F64_NC, n - jc);
            for (int pc = 0; pc < d.k; pc += F64_KC) {
                int kc = Math.min(F64_KC, d.k - pc);
                for (int p = 0; p < kc; p++) {
                    int src = bOff + (pc + p) * d.bRowStride + jc * d.bColStride;
                    for (int j = 0; j < nc; j++) {
                        bBlock[p * nc + j] = b[src + j * d.bColStride];
                    }
                }
                for (int i = i0; i < i1; i++) {
                    int cRow = cOff + i * ldc + jc;
                    int aRow = aOff + i * d.aRowStride + pc * d.aColStride;
                    for (int p = 0; p < kc; p++) {
                        double x = alpha * a[aRow + p * d.aColStride];
                        int bRow = p * nc;
                        for (int j = 0; j < nc; j++) {
                            c[cRow + j] += x * bBlock[bRow + j];
                        }
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // BF16 and F16: widen, compute in F32, narrow

    private void matmulHalf(Tensor out, Tensor a, Tensor b, Dims d, double alpha, boolean accumulate) {
        if (!d.contiguousOut()) {
            // a row-pitched out: compute into a contiguous one (holding out's values when accumulating), copy back
            Tensor staged = accumulate ? out.copy() : Tensor.empty(out.shape(), out.dtype(), out.device());
            matmulHalf(staged, a, b, d.withContiguousOut(), alpha, accumulate);
            Backends.of(out).elementwise().copy(out, staged);
            return;
        }
        Tensor a32 = widen(a, d.aBatchStride == 0 ? 1 : d.batch);
        Tensor b32 = widen(b, d.bBatchStride == 0 ? 1 : d.batch);
        int outCount = d.batch * d.m * d.n;
        Tensor out32 = accumulate ? widen(out, d.batch) : new Tensor(CpuStorage.wrap(new float[outCount]),
                out.shape());
        matmulF32(out32, a32, b32, d, (float) alpha, accumulate);
        CpuStorage dst = out.cpu();
        float[] src = out32.cpu().f32();
        int off = Math.toIntExact(out.offset());
        for (int i = 0; i < outCount; i++) {
            dst.set(off + i, src[i]); // rounds to nearest even
        }
    }

    /**
     * The first {@code matrices} matrices of a host tensor (B, rows, cols) stored by rows, as an F32 tensor with the
     * same shape and strides (so the same {@link Dims}) from offset 0; pad elements between rows are left 0.
     */
    private static Tensor widen(Tensor t, int matrices) {
        CpuStorage s = t.cpu();
        int off = Math.toIntExact(t.offset());
        int rows = Math.toIntExact(t.shape().dim(1));
        int cols = Math.toIntExact(t.shape().dim(2));
        int ld = Dims.rowStride(t);
        int batchStride = matrices == 1 ? 0 : Math.toIntExact(t.stride(0));
        int count = rows == 0 || cols == 0 ? 0 : (matrices - 1) * batchStride + (rows - 1) * ld + cols;
        float[] f = new float[count];
        for (int bi = 0; bi < matrices; bi++) {
            for (int r = 0; r < rows; r++) {
                int base = bi * batchStride + r * ld;
                for (int j = 0; j < cols; j++) {
                    f[base + j] = (float) s.get(off + base + j);
                }
            }
        }
        return new Tensor(CpuStorage.wrap(f), t.shape(), t.strides(), 0);
    }

    // ---------------------------------------------------------------------------------------------------------------

    private static int ceilDiv(int x, int y) {
        return (x + y - 1) / y;
    }

    private static int roundUp(int x, int multiple) {
        return ceilDiv(x, multiple) * multiple;
    }
}
