package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.norm.NormKernels;
import java.util.concurrent.ConcurrentHashMap;
import jcuda.driver.JCudaDriver;

/**
 * Layer norm on the GPU (layernorm.cu), llm.c style: the forward saves per-row mean and rstd (biased variance, eps
 * inside the square root, as {@link ai.fulgur.ops.cpu.CpuNorm}); F32, BF16 and F16 compute in float with F32
 * statistics, F64 in double.
 *
 * <p>Rows of at most {@value CudaReduce#WARP_ROW_LIMIT} columns (512 for the F64 backward) run one warp per row with
 * the row in registers; the backward warp kernel runs one wave (grid sized from its occupancy), its warps also sum
 * dgamma and dbeta, one partial row per block, which a small kernel adds in order. Longer rows run one block per row,
 * and dgamma/dbeta come from a column kernel into the same kind of partial rows. No atomics: the gradients have the
 * same bits on every run (on one device: the partial rows depend on the multiprocessor count and occupancy).
 */
final class CudaNorm implements NormKernels {
    private static final String MODULE = "layernorm";
    private static final int THREADS = CudaReduce.THREADS;
    /** Threads of layernorm_param_grad_finish: 8 columns × 32 groups over the partial rows. */
    private static final int FINISH_THREADS = 256;
    /** Columns of one layernorm_param_grad_finish block (layernorm.cu's FINISH_COLUMNS). */
    private static final int FINISH_COLUMNS = 8;
    private final ConcurrentHashMap<String, Integer> occupancy = new ConcurrentHashMap<>();

    // y (R, C), mean (R), rstd (R), x (R, C), gamma (C) or null, beta (C) or null
    @Override
    public void layerNormForward(Tensor y, Tensor mean, Tensor rstd, Tensor x, Tensor gamma, Tensor beta, double eps) {
        String suffix = CudaReduce.floatSuffix(x.dtype(), "layerNormForward");
        long[] rc = CudaReduce.rowsAndColumns("layerNormForward", x, y);
        long rows = rc[0];
        long c = rc[1];
        checkStatistic("layerNormForward", "mean", mean, rows, x.dtype());
        checkStatistic("layerNormForward", "rstd", rstd, rows, x.dtype());
        checkParameter("layerNormForward", "gamma", gamma, c, x.dtype());
        checkParameter("layerNormForward", "beta", beta, c, x.dtype());
        if (rows == 0) {
            return;
        }
        CudaDevice d = CudaTensors.device(x);
        Object[] tensors = {CudaTensors.first(y), CudaTensors.first(mean), CudaTensors.first(rstd),
            CudaTensors.first(x), CudaReduce.addressOrNull(gamma), CudaReduce.addressOrNull(beta)};
        if (c <= CudaReduce.WARP_ROW_LIMIT) {
            boolean vec = vectorised(x.dtype(), c, y, x, gamma, beta);
            long rowsPerBlock = (THREADS / 32) * (vec ? forwardRowsPerWarp(x.dtype()) : 1);
            int lanes = CudaReduce.warpLanes(c);
            String variant = vec ? (fullRows(x.dtype(), lanes, c) ? "_vec_full_" : "_vec_") : "_";
            d.launch(MODULE, "layernorm_forward_warp" + lanes + variant + suffix,
                    CudaReduce.checkGrid(Math.ceilDiv(rows, rowsPerBlock), "layerNormForward"), THREADS, 0,
                    args(rows, (int) c, eps, tensors));
        } else {
            d.launch(MODULE, "layernorm_forward_block_" + suffix, CudaReduce.checkGrid(rows, "layerNormForward"),
                    CudaReduce.rowBlockThreads(c), 0, args(rows, c, eps, tensors));
        }
    }

    // dx (R, C); dgamma, dbeta (C) or null; dy, x (R, C); mean, rstd (R); gamma (C) or null
    @Override
    public void layerNormBackward(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor mean,
            Tensor rstd, Tensor gamma) {
        String suffix = CudaReduce.floatSuffix(x.dtype(), "layerNormBackward");
        long[] rc = CudaReduce.rowsAndColumns("layerNormBackward", x, dy, dx);
        long rows = rc[0];
        long c = rc[1];
        checkStatistic("layerNormBackward", "mean", mean, rows, x.dtype());
        checkStatistic("layerNormBackward", "rstd", rstd, rows, x.dtype());
        checkParameter("layerNormBackward", "gamma", gamma, c, x.dtype());
        checkParameter("layerNormBackward", "dgamma", dgamma, c, x.dtype());
        checkParameter("layerNormBackward", "dbeta", dbeta, c, x.dtype());
        if (c == 0) {
            return;
        }
        CudaDevice d = CudaTensors.device(x);
        boolean params = dgamma != null || dbeta != null;
        DType partialType = statisticType(x.dtype()); // the partial sums are in the compute type
        long dgammaOut = CudaReduce.addressOrNull(dgamma);
        long dbetaOut = CudaReduce.addressOrNull(dbeta);
        if (rows == 0) {
            if (params) { // sums over no rows: zeros
                d.launch(MODULE, "layernorm_param_grad_finish_" + suffix, Math.ceilDiv(c, FINISH_COLUMNS), FINISH_THREADS, 0,
                        0L, c, dgammaOut, dbetaOut, 0L, 0L);
            }
            return;
        }
        long warpLimit = x.dtype() == DType.F64 ? 512 : CudaReduce.WARP_ROW_LIMIT;
        CudaStorage partial = null;
        try {
            long parts;
            if (c <= warpLimit) {
                // one wave: as many blocks as fit on the device at once; each warp takes every (grid·warps)-th row,
                // and each block writes one partial row of dgamma and dbeta
                boolean vec = vectorised(x.dtype(), c, dx, dy, x, gamma);
                int lanes = CudaReduce.warpLanes(c);
                String variant = vec ? (fullRows(x.dtype(), lanes, c) ? "_vec_full_" : "_vec_") : "_";
                String kernel = "layernorm_backward_warp" + lanes + variant + suffix;
                int threads = backwardThreads(x.dtype(), lanes, vec);
                int shared = backwardSharedBytes(lanes, vec ? 16 / x.dtype().byteSize() : 1, partialType, params,
                        threads);
                if (shared > DEFAULT_SHARED_LIMIT) {
                    d.allowDynamicSharedMemory(MODULE, kernel, shared);
                }
                long grid = Math.min(Math.ceilDiv(rows, threads / 32),
                        (long) d.multiprocessors() * blocksPerMultiprocessor(d, kernel, threads, shared));
                parts = grid;
                if (params) {
                    partial = new CudaStorage(d, partialType, 2 * parts * c); // dgamma (parts, C), dbeta (parts, C)
                }
                d.launch(MODULE, kernel, grid, threads, shared, rows, (int) c, CudaTensors.first(dx),
                        params ? partial.address(0) : 0L,
                        params ? partial.address(parts * c) : 0L, CudaTensors.first(dy), CudaTensors.first(x),
                        CudaTensors.first(mean), CudaTensors.first(rstd), CudaReduce.addressOrNull(gamma));
            } else {
                d.launch(MODULE, "layernorm_backward_block_" + suffix, CudaReduce.checkGrid(rows, "layerNormBackward"),
                        CudaReduce.rowBlockThreads(c), 0, rows, c, CudaTensors.first(dx), CudaTensors.first(dy),
                        CudaTensors.first(x), CudaTensors.first(mean), CudaTensors.first(rstd),
                        CudaReduce.addressOrNull(gamma));
                if (!params) {
                    return;
                }
                // 32 columns a block; rows split so that the column blocks times the splits fill the device
                long colBlocks = Math.ceilDiv(c, 32);
                long splits = Math.max(1, Math.min(Math.ceilDiv(4L * d.multiprocessors(), colBlocks),
                        Math.ceilDiv(rows, 32)));
                splits = Math.min(splits, 65535);
                long rowsPerSplit = Math.ceilDiv(rows, splits);
                splits = Math.ceilDiv(rows, rowsPerSplit);
                parts = splits;
                partial = new CudaStorage(d, partialType, 2 * parts * c);
                d.launch3(MODULE, "layernorm_param_grad_partial_" + suffix,
                        CudaReduce.checkGrid(colBlocks, "layerNormBackward"), splits, 1, THREADS, 0, rows, c,
                        rowsPerSplit, partial.address(0), partial.address(parts * c), CudaTensors.first(dy),
                        CudaTensors.first(x), CudaTensors.first(mean), CudaTensors.first(rstd));
            }
            if (params) {
                d.launch(MODULE, "layernorm_param_grad_finish_" + suffix, Math.ceilDiv(c, FINISH_COLUMNS), FINISH_THREADS, 0,
                        parts, c,
                        dgammaOut, dbetaOut, partial.address(0), partial.address(parts * c));
            }
        } finally {
            if (partial != null) {
                partial.close(); // stream-ordered: safe right after the launches
            }
        }
    }

    // -----------------------------------------------------------------------------------------------------------------
    // autocast's mixed types (layernorm_mixed.cu): F32 x in, half y out; half dy in, F32 dx out

    /** The module of the mixed-type kernels. */
    private static final String MIXED_MODULE = "layernorm_mixed";
    /** Threads of layernorm_backward_half_dy (4 warps: its 160 registers a lane allow 3 blocks a multiprocessor). */
    private static final int MIXED_BACKWARD_THREADS = 128;
    /** The longest row the mixed kernels take (4 floats a pack, 8 packs a lane, 32 lanes). */
    static final long MIXED_ROW_LIMIT = 1024;

    // y (R, C) BF16/F16; mean, rstd (R) F32; x (R, C) F32; gamma, beta (C) F32 or null
    @Override
    public void layerNormForwardHalfOut(Tensor y, Tensor mean, Tensor rstd, Tensor x, Tensor gamma, Tensor beta,
            double eps) {
        long[] rc = CudaReduce.rowsAndColumns("layerNormForward", x); // x F32, y half: checked apart
        checkHalfPartner("layerNormForward", "y", y, x);
        if (!mixedApplies(x, y, rc[1], y, x, gamma, beta) || rc[0] == 0) {
            NormKernels.super.layerNormForwardHalfOut(y, mean, rstd, x, gamma, beta, eps);
            return;
        }
        checkStatistic("layerNormForward", "mean", mean, rc[0], x.dtype());
        checkStatistic("layerNormForward", "rstd", rstd, rc[0], x.dtype());
        checkParameter("layerNormForward", "gamma", gamma, rc[1], x.dtype());
        checkParameter("layerNormForward", "beta", beta, rc[1], x.dtype());
        CudaDevice d = CudaTensors.device(x);
        d.launch(MIXED_MODULE, "layernorm_forward_half_out_" + halfName(y.dtype()),
                CudaReduce.checkGrid(Math.ceilDiv(rc[0], THREADS / 32), "layerNormForward"), THREADS, 0, rc[0],
                (int) rc[1], eps, CudaTensors.first(y), CudaTensors.first(mean), CudaTensors.first(rstd),
                CudaTensors.first(x), CudaReduce.addressOrNull(gamma), CudaReduce.addressOrNull(beta));
    }

    // dx (R, C) F32; dgamma, dbeta (C) F32 or null; dy (R, C) BF16/F16; x (R, C) F32; mean, rstd (R); gamma (C) or null
    @Override
    public void layerNormBackwardHalfDy(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor mean,
            Tensor rstd, Tensor gamma) {
        long[] rc = CudaReduce.rowsAndColumns("layerNormBackward", x, dx); // both F32; dy half, checked apart
        checkHalfPartner("layerNormBackward", "dy", dy, x);
        long rows = rc[0];
        long c = rc[1];
        if (!mixedApplies(x, dy, c, dx, dy, x, gamma) || rows == 0) {
            NormKernels.super.layerNormBackwardHalfDy(dx, dgamma, dbeta, dy, x, mean, rstd, gamma);
            return;
        }
        checkStatistic("layerNormBackward", "mean", mean, rows, x.dtype());
        checkStatistic("layerNormBackward", "rstd", rstd, rows, x.dtype());
        checkParameter("layerNormBackward", "gamma", gamma, c, x.dtype());
        checkParameter("layerNormBackward", "dgamma", dgamma, c, x.dtype());
        checkParameter("layerNormBackward", "dbeta", dbeta, c, x.dtype());
        CudaDevice d = CudaTensors.device(x);
        boolean params = dgamma != null || dbeta != null;
        String kernel = "layernorm_backward_half_dy_" + halfName(dy.dtype());
        int warps = MIXED_BACKWARD_THREADS / 32;
        int shared = params ? Math.toIntExact(2L * warps * c * Float.BYTES) : 0; // one (dgamma, dbeta) slice a warp
        long grid = Math.min(Math.ceilDiv(rows, warps),
                (long) d.multiprocessors() * mixedBlocksPerMultiprocessor(d, kernel, shared));
        CudaStorage partial = params ? new CudaStorage(d, DType.F32, 2 * grid * c) : null;
        try {
            d.launch(MIXED_MODULE, kernel, grid, MIXED_BACKWARD_THREADS, shared, rows, (int) c, CudaTensors.first(dx),
                    params ? partial.address(0) : 0L, params ? partial.address(grid * c) : 0L,
                    CudaTensors.first(dy), CudaTensors.first(x), CudaTensors.first(mean), CudaTensors.first(rstd),
                    CudaReduce.addressOrNull(gamma));
            if (params) {
                d.launch(MODULE, "layernorm_param_grad_finish_f32", Math.ceilDiv(c, FINISH_COLUMNS), FINISH_THREADS,
                        0, grid, c, CudaReduce.addressOrNull(dgamma), CudaReduce.addressOrNull(dbeta),
                        partial.address(0), partial.address(grid * c));
            }
        } finally {
            if (partial != null) {
                partial.close(); // stream-ordered: safe right after the launches
            }
        }
    }

    /**
     * Whether layernorm_mixed.cu takes these operands: F32 x with a BF16/F16 partner, rows of a multiple of 4 columns
     * up to {@value #MIXED_ROW_LIMIT}, F32 tensors 16-byte and half ones 8-byte aligned (null ones do not count).
     */
    private static boolean mixedApplies(Tensor x, Tensor half, long c, Tensor... tensors) {
        if (x.dtype() != DType.F32 || !half.dtype().isHalf() || c % 4 != 0 || c > MIXED_ROW_LIMIT) {
            return false;
        }
        for (Tensor t : tensors) {
            if (t != null && CudaTensors.first(t) % (t.dtype() == DType.F32 ? 16 : 8) != 0) {
                return false;
            }
        }
        return true;
    }

    /** The half operand of a mixed call: x's shape, contiguous, BF16 or F16. */
    private static void checkHalfPartner(String op, String name, Tensor half, Tensor x) {
        if (!half.shape().equals(x.shape()) || !half.isContiguous() || !half.dtype().isHalf()) {
            throw new IllegalArgumentException(op + ": " + name + " must be a contiguous BF16 or F16 tensor of x's "
                    + "shape " + x.shape() + ", got " + half);
        }
    }

    private static String halfName(DType t) {
        return t == DType.BF16 ? "bf16" : "f16";
    }

    /** Resident blocks of the mixed backward kernel per multiprocessor (its registers decide), at least 1. */
    private int mixedBlocksPerMultiprocessor(CudaDevice d, String kernel, int sharedBytes) {
        return occupancy.computeIfAbsent(d.index() + "/" + kernel + "/" + sharedBytes, k -> {
            int[] blocks = {0};
            JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor(blocks, d.function(MIXED_MODULE, kernel),
                    MIXED_BACKWARD_THREADS, sharedBytes);
            return Math.max(1, blocks[0]);
        });
    }

    /**
     * Whether every lane's 16-byte packs lie inside a row of {@code c} (c = 32 · ceil(lanes / W) · W, W elements a
     * pack, as for C = 768 and 1024): the *_full_* kernels, which skip the per-element bounds tests.
     */
    static boolean fullRows(DType dtype, int lanes, long c) {
        int w = 16 / dtype.byteSize();
        return c == 32L * Math.ceilDiv(lanes, w) * w;
    }

    /**
     * Rows a warp of the vectorised forward kernel takes (layernorm.cu's LAYERNORM_FORWARD_ROWS): two for BF16/F16, so
     * a warp has as many bytes in flight as an F32 warp, one otherwise.
     */
    static int forwardRowsPerWarp(DType dtype) {
        return dtype.isHalf() ? 2 : 1;
    }

    /**
     * Whether the 16-byte-pack (*_vec_*) warp kernels apply: rows a whole number of packs and every tensor 16-byte
     * aligned (null ones do not count).
     */
    private static boolean vectorised(DType dtype, long c, Tensor... tensors) {
        if (c % (16 / dtype.byteSize()) != 0) {
            return false;
        }
        for (Tensor t : tensors) {
            if (t != null && CudaTensors.first(t) % 16 != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Dynamic shared memory of the backward warp kernel (layernorm.cu: N lanes' worth of elements a lane, W-element
     * packs, ceil(N / W)·W·32 elements a warp): the block's widened gamma, that many values of the compute type
     * rounded up to 16 bytes, then, when it sums dgamma/dbeta ({@code params}), a slice per warp of as many pairs of
     * accumulators (a dgamma and a dbeta sum per element, side by side).
     */
    static int backwardSharedBytes(int lanes, int packElements, DType partialType, boolean params, int threads) {
        long elements = (long) Math.ceilDiv(lanes, packElements) * packElements * 32;
        long gamma = Math.ceilDiv(elements * partialType.byteSize(), 16) * 16;
        long slices = params ? 2L * (threads / 32) * elements * partialType.byteSize() : 0;
        return Math.toIntExact(gamma + slices);
    }

    /**
     * Threads of a block of the backward warp kernel: 512 for the BF16/F16 vectorised kernels at 24 lanes (GPT-2's
     * C = 768; one block of 16 warps a multiprocessor, half the partial rows of two blocks of 8), else 256 — as the
     * kernels' __launch_bounds__ in layernorm.cu declare.
     */
    static int backwardThreads(DType dtype, int lanes, boolean vec) {
        return vec && dtype.isHalf() && lanes == 24 ? 512 : THREADS;
    }

    /** Dynamic shared memory a kernel may use without opting in. */
    private static final int DEFAULT_SHARED_LIMIT = 48 << 10;

    /** Resident blocks of {@code threads} per multiprocessor for {@code kernel} (its registers decide), at least 1. */
    private int blocksPerMultiprocessor(CudaDevice d, String kernel, int threads, int sharedBytes) {
        return occupancy.computeIfAbsent(d.index() + "/" + kernel + "/" + sharedBytes, k -> {
            int[] blocks = {0};
            JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor(blocks, d.function(MODULE, kernel), threads,
                    sharedBytes);
            return Math.max(1, blocks[0]);
        });
    }

    /** mean and rstd are F32 for F32/BF16/F16 inputs and F64 for F64 inputs. */
    private static DType statisticType(DType x) {
        return x == DType.F64 ? DType.F64 : DType.F32;
    }

    private static void checkStatistic(String op, String name, Tensor t, long rows, DType x) {
        if (t.dtype() != statisticType(x) || t.numel() != rows || !t.isContiguous()) {
            throw new IllegalArgumentException(op + ": " + name + " must be a contiguous " + statisticType(x) + " ("
                    + rows + ") for " + x + " inputs, got " + t);
        }
    }

    private static void checkParameter(String op, String name, Tensor t, long c, DType x) {
        if (t != null && (t.dtype() != x || t.numel() != c || !t.isContiguous())) {
            throw new IllegalArgumentException(op + ": " + name + " must be a contiguous " + x + " (" + c + "), got "
                    + t);
        }
    }

    /** rows, C, eps, then the six addresses. */
    private static Object[] args(long rows, Object c, double eps, Object[] tensors) {
        Object[] all = new Object[3 + tensors.length];
        all[0] = rows;
        all[1] = c;
        all[2] = eps;
        System.arraycopy(tensors, 0, all, 3, tensors.length);
        return all;
    }
}
