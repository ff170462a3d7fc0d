package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionKernels;
import ai.fulgur.ops.attention.AttentionSpec;
import ai.fulgur.ops.attention.BlockSparseLayout;
import ai.fulgur.ops.attention.Sequences;
import java.util.HashMap;
import java.util.Map;
import java.util.WeakHashMap;
import jcuda.driver.JCudaDriver;

/**
 * FlashAttention on the GPU (flash_attention_forward.cu, flash_attention_backward.cu): BF16 and F16 inputs with F32
 * accumulation on tensor cores, head dims 32, 64, 96 and 128; causal (bottom-right aligned), sliding windows, padded key
 * lengths, packed variable-length batches, grouped-query attention, any softmax scale, and Philox dropout whose mask
 * equals {@link ai.fulgur.ops.cpu.CpuAttention}'s bit for bit. The forward writes O and the F32 logsumexp; the
 * backward computes D = rowsum(dO ∘ O), then by default one pass over query tiles per key tile that keeps dK, dV in
 * registers and adds dQ into an F32 buffer with atomics (FlashAttention-2); with {@link AttentionSpec#deterministic()}
 * dQ gets its own pass over key tiles per query tile instead (recomputing P, about 10% slower), so gradients have the
 * same bits on every run. On Hopper (compute capability 9.0) the dense and causal cases run wgmma kernels instead:
 * {@link HopperFlashForward} (or, where {@code fulgur.flash.tma} allows, {@link HopperTmaForward}) and, for the
 * default (atomic) backward, {@link HopperFlashBackward}.
 *
 * <p>Block-sparse layouts ({@link AttentionSpec#layout()}, any block size, shared or per head) run the {@code _sparse}
 * kernels, which walk only the tiles a set block overlaps ({@link SparseTiles}: the layout compressed to each kernel's
 * tiles, uploaded once per layout, device and tile shape), so an empty block costs neither copies nor math; a tile
 * that set blocks cover entirely runs unmasked, the rest are masked element by element.
 *
 * <p>Not here yet: F32 inputs and head dims other than 32, 64, 96 and 128 (each throws
 * {@link UnsupportedOperationException} naming the alternative). {@link FlashKernels#select} picks the kernels per
 * head dim and architecture.
 */
final class CudaAttention implements AttentionKernels {
    /** Device copies of block-sparse masks, dropped with their layout. */
    private final Map<BlockSparseLayout, Map<Integer, Tensor>> layouts = new WeakHashMap<>();
    /** Device copies of block-sparse tile lists by "device/tileRows×tileCols", dropped with their layout. */
    private final Map<BlockSparseLayout, Map<String, DeviceTiles>> tileLists = new WeakHashMap<>();

    /** A layout's tile lists on one device: the packed int32 arrays and where each starts. */
    private record DeviceTiles(SparseTiles tiles, Tensor packed) {
        long address(int part) {
            return CudaTensors.first(packed) + 4 * tiles.packedOffsets()[part];
        }
    }

    // o (B, Nq, Hq, D), lse F32 (B, Hq, Nq); q (B, Nq, Hq, D); k, v (B, Nk, Hkv, D)
    /** BF16/F16 inputs with a head dim the mma.sync family was built for ({@link FlashKernels#HEAD_DIMS}). */
    @Override
    public boolean supports(DType dtype, int headDim, ai.fulgur.ops.Device device) {
        return (dtype == DType.BF16 || dtype == DType.F16)
                && FlashKernels.select(headDim, CudaBackend.device(device).computeCapability()) != null;
    }

    @Override
    public void flashForward(Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        FlashKernels kernels = kernels("flashForward", q, spec);
        CudaDevice d = CudaTensors.device(q);
        q = aligned(q);
        k = aligned(k);
        v = aligned(v);
        checkOutput("flashForward", "o", o);
        checkLse("flashForward", lse, q);
        Sequences seqs = Sequences.of(q, k, spec);
        Tensor table = sequenceTable(seqs, spec, d);
        long[] p = params(spec, q, k, v, o, lse, null, null, null, null, 0L, table, seqs.count(), 0L,
                layoutMask(spec, d));
        rowWalk(p, tiles(spec, d, kernels.fwdRows(), kernels.fwdKeys()));
        HopperTmaForward tma = HopperTmaForward.select(q, spec, d.computeCapability());
        if (tma != null && tma.describes(q, k, v)) { // TMA copies and warp specialisation, where tensor maps fit
            tma.launch(d, p, q, k, v, maxOf(seqs.nq()), q.shape().dim(2), gridZ(seqs));
            return;
        }
        HopperFlashForward hopper = HopperFlashForward.select(q, spec, d.computeCapability());
        if (hopper != null) { // wgmma on sm_90a for the options it covers (dense or causal, no layout)
            hopper.launch(d, p, maxOf(seqs.nq()), q.shape().dim(2), gridZ(seqs));
            return;
        }
        String name = "flash_fwd_" + dtypeName(q) + "_" + kernels.suffix() + variant(spec);
        int smem = kernels.forwardSharedBytes();
        d.allowDynamicSharedMemory(kernels.forwardModule(), name, smem);
        d.launch3(kernels.forwardModule(), name, Math.ceilDiv(maxOf(seqs.nq()), kernels.fwdRows()),
                q.shape().dim(2), gridZ(seqs), kernels.fwdThreads(), smem, p);
    }

    /**
     * The name of the kernel {@link #flashForward} launches for these inputs (tests and benchmarks report it), judging
     * the TMA kernel's tensor maps by q alone (k and v laid out alike); {@link #forwardKernel(Tensor, Tensor, Tensor,
     * AttentionSpec)} checks all three.
     */
    static String forwardKernel(Tensor q, AttentionSpec spec) {
        return forwardKernel(q, q, q, spec);
    }

    /** The name of the kernel {@link #flashForward} launches for these inputs (tests and benchmarks report it). */
    static String forwardKernel(Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        FlashKernels kernels = kernels("flashForward", q, spec);
        HopperTmaForward tma = HopperTmaForward.select(q, spec, CudaTensors.device(q).computeCapability());
        if (tma != null && tma.describes(aligned(q), aligned(k), aligned(v))) {
            return tma.kernelName();
        }
        HopperFlashForward hopper = HopperFlashForward.select(q, spec, CudaTensors.device(q).computeCapability());
        return hopper != null ? hopper.kernelName()
                : "flash_fwd_" + dtypeName(q) + "_" + kernels.suffix() + variant(spec);
    }

    /**
     * The name of the kernel {@link #flashBackward} computes dK and dV with for these inputs (tests and benchmarks
     * report it): the Hopper kernel, the mma.sync kernel that adds dQ by atomics, or, deterministic, the mma.sync
     * dK/dV pass (beside its dQ pass).
     */
    static String backwardKernel(Tensor q, AttentionSpec spec) {
        FlashKernels kernels = kernels("flashBackward", q, spec);
        HopperFlashBackward hopper = HopperFlashBackward.select(q, spec, CudaTensors.device(q).computeCapability());
        if (hopper != null) {
            return hopper.kernelName();
        }
        return (spec.deterministic() ? "flash_bwd_dkdv_" : "flash_bwd_fused_") + dtypeName(q) + "_" + kernels.suffix()
                + variant(spec);
    }

    // dq, dout, o (B, Nq, Hq, D); dk, dv, k, v (B, Nk, Hkv, D); lse F32 (B, Hq, Nq)
    @Override
    public void flashBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o,
            Tensor lse, AttentionSpec spec) {
        FlashKernels kernels = kernels("flashBackward", q, spec);
        CudaDevice d = CudaTensors.device(q);
        q = aligned(q);
        k = aligned(k);
        v = aligned(v);
        o = aligned(o);
        dout = aligned(dout);
        checkOutput("flashBackward", "dq", dq);
        checkOutput("flashBackward", "dk", dk);
        checkOutput("flashBackward", "dv", dv);
        checkLse("flashBackward", lse, q);
        Sequences seqs = Sequences.of(q, k, spec);
        Tensor table = sequenceTable(seqs, spec, d);
        long b = q.shape().dim(0);
        long hq = q.shape().dim(2);
        long rows = b * q.shape().dim(1) * hq;
        CudaStorage delta = new CudaStorage(d, DType.F32, rows);
        // the fast path adds dQ / scale into an F32 buffer with atomics; the deterministic one recomputes per query tile
        CudaStorage accum = spec.deterministic() ? null : new CudaStorage(d, DType.F32, rows * q.shape().dim(3));
        try {
            long[] p = params(spec, q, k, v, o, lse, dout, dq, dk, dv, delta.address(0), table, seqs.count(),
                    accum == null ? 0L : accum.address(0), layoutMask(spec, d));
            // the dQ pass walks key tiles per query tile, the dK/dV pass query tiles per key tile
            colWalk(p, tiles(spec, d, kernels.kvRows(), kernels.kvKeys()));
            if (accum == null) {
                rowWalk(p, tiles(spec, d, kernels.dqRows(), kernels.dqKeys()));
            }
            String type = dtypeName(q) + "_" + kernels.suffix();
            String drop = variant(spec);
            String module = kernels.backwardModule();
            long streamBlocks = (long) d.multiprocessors() * 16;
            if (accum != null) {
                JCudaDriver.cuMemsetD32Async(accum.pointer(0), 0, rows * q.shape().dim(3), d.stream());
            }
            if (rows > 0) {
                d.launch(module, "flash_bwd_delta_" + type, Math.min(Math.ceilDiv(rows, 8), streamBlocks), 256, 0, p,
                        b);
            }
            long kvGrid = Math.ceilDiv(maxOf(seqs.nkAlign()), kernels.kvKeys());
            if (accum == null) {
                String dqName = "flash_bwd_dq_" + type + drop;
                d.allowDynamicSharedMemory(module, dqName, kernels.dqSharedBytes());
                d.launch3(module, dqName, Math.ceilDiv(maxOf(seqs.nq()), kernels.dqRows()), hq, gridZ(seqs),
                        kernels.dqThreads(), kernels.dqSharedBytes(), p);
                String kvName = "flash_bwd_dkdv_" + type + drop;
                d.allowDynamicSharedMemory(module, kvName, kernels.dkdvSharedBytes());
                d.launch3(module, kvName, kvGrid, k.shape().dim(2), gridZ(seqs), kernels.kvThreads(),
                        kernels.dkdvSharedBytes(), p);
            } else {
                HopperFlashBackward hopper = HopperFlashBackward.select(q, spec, d.computeCapability());
                if (hopper != null) { // wgmma on sm_90a for the options it covers (dense or causal, no layout)
                    hopper.launch(d, p, maxOf(seqs.nkAlign()), k.shape().dim(2), gridZ(seqs));
                } else {
                    String fusedName = "flash_bwd_fused_" + type + drop;
                    d.allowDynamicSharedMemory(module, fusedName, kernels.fusedSharedBytes());
                    d.launch3(module, fusedName, kvGrid, k.shape().dim(2), gridZ(seqs), kernels.kvThreads(),
                            kernels.fusedSharedBytes(), p);
                }
                if (rows > 0) {
                    d.launch(module, "flash_bwd_dq_convert_" + type,
                            Math.min(Math.ceilDiv(rows * q.shape().dim(3) / 2, 256), streamBlocks), 256, 0, p, b);
                }
            }
        } finally {
            delta.close(); // stream-ordered: safe right after the launches
            if (accum != null) {
                accum.close();
            }
        }
    }

    // -----------------------------------------------------------------------------------------------------------------

    private static FlashKernels kernels(String op, Tensor q, AttentionSpec spec) {
        if (q.dtype() != DType.BF16 && q.dtype() != DType.F16) {
            throw new UnsupportedOperationException(op + ": the CUDA kernels take BF16 or F16 inputs (F32 "
                    + "accumulation), got " + q.dtype() + "; cast q, k and v, or run on the CPU");
        }
        int headDim = (int) q.shape().dim(3);
        int cc = CudaTensors.device(q).computeCapability();
        FlashKernels k = FlashKernels.select(headDim, cc);
        if (k == null) {
            throw new UnsupportedOperationException(op + ": no CUDA kernel for head dim " + headDim + " on sm_" + cc
                    + "; built: head dims " + java.util.Arrays.toString(FlashKernels.HEAD_DIMS) + " on sm_80 and later");
        }
        return k;
    }

    /** The kernel-name suffix of the compile-time options: dropout, block-sparse layout. */
    private static String variant(AttentionSpec spec) {
        return (spec.dropoutP() > 0 ? "_dropout" : "") + (spec.layout() != null ? "_sparse" : "");
    }

    private static String dtypeName(Tensor t) {
        return t.dtype() == DType.BF16 ? "bf16" : "f16";
    }

    /** The tensor itself if its rows start on 16-byte boundaries (cp.async copies 16 bytes), else a copy. */
    private static Tensor aligned(Tensor t) {
        long elem = t.dtype().byteSize();
        boolean ok = t.stride(3) == 1 && CudaTensors.first(t) % 16 == 0;
        for (int axis = 0; axis < 3 && ok; axis++) {
            ok = (t.stride(axis) * elem) % 16 == 0 || t.shape().dim(axis) == 1;
        }
        return ok ? t : t.contiguous();
    }

    private static void checkOutput(String op, String name, Tensor t) {
        if (t.stride(3) != 1 || CudaTensors.first(t) % 4 != 0) {
            throw new IllegalArgumentException(op + ": " + name + " must have stride 1 on the head dim and 4-byte "
                    + "aligned rows, got " + t);
        }
    }

    private static void checkLse(String op, Tensor lse, Tensor q) {
        long b = q.shape().dim(0);
        long h = q.shape().dim(2);
        long n = q.shape().dim(1);
        if (lse.dtype() != DType.F32 || !lse.isContiguous() || lse.numel() != b * h * n) {
            throw new IllegalArgumentException(op + ": lse must be a contiguous F32 (" + b + ", " + h + ", " + n
                    + "), got " + lse);
        }
    }

    /** The (6, S) int64 sequence table on the device, or null when every sequence is a plain batch entry. */
    private static Tensor sequenceTable(Sequences seqs, AttentionSpec spec, CudaDevice d) {
        if (!spec.isPacked() && spec.keyLengths() == null) {
            return null;
        }
        int s = seqs.count();
        long[] t = new long[6 * s];
        for (int i = 0; i < s; i++) {
            t[i] = seqs.batchIndex()[i];
            t[s + i] = seqs.qStart()[i];
            t[2 * s + i] = seqs.kStart()[i];
            t[3 * s + i] = seqs.nq()[i];
            t[4 * s + i] = seqs.nkAlign()[i];
            t[5 * s + i] = seqs.nkValid()[i];
        }
        return Tensor.of(t, 6, s).to(ai.fulgur.ops.Device.cuda(d.index()));
    }

    /**
     * The block-sparse layout's mask as U8 (heads, query blocks, key blocks) on the device, uploaded once per layout
     * and device; null for dense attention.
     */
    private Tensor layoutMask(AttentionSpec spec, CudaDevice d) {
        BlockSparseLayout l = spec.layout();
        if (l == null) {
            return null;
        }
        synchronized (layouts) {
            Map<Integer, Tensor> perDevice = layouts.computeIfAbsent(l, x -> new HashMap<>());
            return perDevice.computeIfAbsent(d.index(), i -> {
                boolean[] m = l.mask();
                int[] bytes = new int[m.length];
                for (int j = 0; j < m.length; j++) {
                    bytes[j] = m[j] ? 1 : 0;
                }
                return Tensor.of(bytes, l.heads(), l.queryBlocks(), l.keyBlocks()).cast(DType.U8)
                        .to(ai.fulgur.ops.Device.cuda(i));
            });
        }
    }

    /**
     * The layout's tile lists for tiles of {@code tileRows} queries × {@code tileCols} keys on the device, built and
     * uploaded once per layout, device and tile shape; null for dense attention.
     */
    private DeviceTiles tiles(AttentionSpec spec, CudaDevice d, int tileRows, int tileCols) {
        BlockSparseLayout l = spec.layout();
        if (l == null) {
            return null;
        }
        synchronized (tileLists) {
            Map<String, DeviceTiles> perShape = tileLists.computeIfAbsent(l, x -> new HashMap<>());
            return perShape.computeIfAbsent(d.index() + "/" + tileRows + "x" + tileCols, key -> {
                SparseTiles t = SparseTiles.of(l, tileRows, tileCols);
                int[] packed = t.packed();
                return new DeviceTiles(t, Tensor.of(packed, packed.length).to(ai.fulgur.ops.Device.cuda(d.index())));
            });
        }
    }

    /** Fills FlashParams' row walk (forward, dQ: key tiles per query tile); nothing for dense attention. */
    private static void rowWalk(long[] p, DeviceTiles t) {
        if (t != null) {
            p[ROW_WALK] = t.address(0);
            p[ROW_WALK + 1] = t.address(1);
            p[ROW_WALK + 2] = t.tiles().rowTiles();
        }
    }

    /** Fills FlashParams' column walk (dK/dV: query tiles per key tile); nothing for dense attention. */
    private static void colWalk(long[] p, DeviceTiles t) {
        if (t != null) {
            p[COL_WALK] = t.address(2);
            p[COL_WALK + 1] = t.address(3);
            p[COL_WALK + 2] = t.tiles().colTiles();
        }
    }

    private static long gridZ(Sequences seqs) {
        if (seqs.count() > 65535) {
            throw new IllegalArgumentException("flashAttention: at most 65535 sequences per call on CUDA, got "
                    + seqs.count());
        }
        return seqs.count();
    }

    private static long maxOf(long[] a) {
        long m = 0;
        for (long x : a) {
            m = Math.max(m, x);
        }
        return m;
    }

    private static long address(Tensor t) {
        return t == null ? 0L : CudaTensors.first(t);
    }

    private static void strides(long[] p, int at, Tensor t) {
        if (t != null) {
            p[at] = t.stride(0);
            p[at + 1] = t.stride(1);
            p[at + 2] = t.stride(2);
        }
    }

    /** Indices in FlashParams of row_offsets and col_offsets (each followed by its entries and tiles per head). */
    private static final int ROW_WALK = 53;
    private static final int COL_WALK = 56;

    /** The FlashParams struct of flash_attention.cuh, field by field (the tile walks are filled in afterwards). */
    private static long[] params(AttentionSpec spec, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, Tensor dout,
            Tensor dq, Tensor dk, Tensor dv, long delta, Tensor table, int seqs, long dqAccum, Tensor layout) {
        long[] p = new long[10 + 24 + 8 + 3 + 3 + 5 + 6]; // 59 int64/double fields
        p[0] = address(q);
        p[1] = address(k);
        p[2] = address(v);
        p[3] = address(o);
        p[4] = address(lse);
        p[5] = address(dout);
        p[6] = address(dq);
        p[7] = address(dk);
        p[8] = address(dv);
        p[9] = delta;
        Tensor[] strided = {q, k, v, o, dout, dq, dk, dv};
        for (int i = 0; i < strided.length; i++) {
            strides(p, 10 + 3 * i, strided[i]);
        }
        int at = 34;
        p[at++] = q.shape().dim(2);
        p[at++] = k.shape().dim(2);
        p[at++] = q.shape().dim(1);
        p[at++] = k.shape().dim(1);
        p[at++] = seqs;
        p[at++] = address(table);
        p[at++] = spec.windowLeft();
        p[at++] = spec.causal() ? 0 : spec.windowRight();
        p[at++] = Double.doubleToRawLongBits(spec.softmaxScale());
        p[at++] = Double.doubleToRawLongBits(spec.softmaxScale() / Math.log(2));
        p[at++] = Double.doubleToRawLongBits(spec.dropoutP());
        p[at++] = spec.seed();
        p[at++] = spec.offset();
        p[at++] = dqAccum;
        BlockSparseLayout l = spec.layout();
        if (l != null) {
            p[at++] = address(layout);
            p[at++] = l.blockSize();
            p[at++] = l.heads();
            p[at++] = l.queryBlocks();
            p[at] = l.keyBlocks();
        }
        return p;
    }
}
