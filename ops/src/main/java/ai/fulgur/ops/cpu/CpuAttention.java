package ai.fulgur.ops.cpu;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionKernels;
import ai.fulgur.ops.attention.AttentionSpec;
import ai.fulgur.ops.attention.BlockSparseLayout;
import ai.fulgur.ops.attention.Sequences;
import ai.fulgur.ops.random.Philox;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * FlashAttention on the host (Dao et al. 2022, with FlashAttention-2's loop order): the readable reference the CUDA
 * kernels are checked against, and the attention CPU training uses.
 *
 * <p>Forward: one task per (sequence, key/value head, query tile of TILE rows). The query heads of a grouped-query
 * group share each key tile, loaded (transposed) once for all of them. For each key tile the masks or the block
 * layout allow, a head keeps its running row max m, row sum l and unnormalised output (online softmax); memory
 * besides the outputs is O(tile²), the Nq × Nk matrix never exists.
 *
 * <p>Backward, with recomputation: D = rowsum(dO ∘ O) first; then each task owns a run of key tiles of one
 * (sequence, key/value head), recomputes S and P = exp(S − L) tile by tile, accumulates dK and dV for its tiles and a
 * private dQ partial. The partials are summed in a fixed order afterwards: deterministic, no atomics, and at most
 * {@link #MAX_RUNS} partials per (sequence, head), so extra memory stays O(N·d) whatever the thread count.
 *
 * <p>Computes in F32; BF16/F16 inputs are widened first and results narrowed at the end.
 */
public final class CpuAttention implements AttentionKernels {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int TILE = 64;
    /** Key-tile runs per (sequence, kv head) in the backward pass: parallelism vs dQ-partial memory. */
    private static final int MAX_RUNS = 8;

    // ---------------------------------------------------------------------------------------------------------------
    // operand views: a float array with (batch, row, head) strides, head dim contiguous

    /** A (B, N, H, D) F32 tensor as an array plus strides. */
    private record View(float[] a, long off, long sB, long sN, long sH, int d) {
        static View of(Tensor t) {
            return new View(t.cpu().f32(), t.offset(), t.stride(0), t.stride(1), t.stride(2), (int) t.shape().dim(3));
        }

        int row(int b, long n, int h) {
            return (int) (off + b * sB + n * sN + h * sH);
        }
    }

    private static Tensor asF32(Tensor t) {
        return t.dtype() == DType.F32 ? t : t.cast(DType.F32);
    }

    /** An F32 stand-in for a half output tensor, or the tensor itself. */
    private static Tensor f32Output(Tensor t) {
        return t.dtype() == DType.F32 ? t : Tensor.zeros(t.shape(), DType.F32, t.device());
    }

    /** Narrows an F32 stand-in into its half output tensor. */
    private static void narrow(Tensor target, Tensor f32) {
        if (f32 != target) {
            new CpuElementwise().copy(target, f32);
        }
    }

    private static int tileSize(AttentionSpec spec) {
        return spec.layout() != null ? spec.layout().blockSize() : TILE;
    }

    /** True if every query head of a group visits the same key tiles (no per-head layout). */
    private static boolean groupSharesTiles(AttentionSpec spec) {
        return spec.layout() == null || spec.layout().heads() == 1;
    }

    /** The key tiles query tile {@code qt} of head {@code h} visits: the layout's list, or all in the mask range. */
    private static int[] keyTiles(AttentionSpec spec, Sequences seqs, int s, int h, int qt, int tile, long i0,
            long i1) {
        long first = seqs.firstKey(spec, s, i0);
        long end = seqs.endKey(spec, s, i1 - 1);
        BlockSparseLayout layout = spec.layout();
        if (layout != null) {
            int[] listed = layout.keyBlocksOf(h, qt);
            int n = 0;
            int[] out = new int[listed.length];
            for (int kt : listed) {
                if ((long) kt * tile < end && (long) (kt + 1) * tile > first) {
                    out[n++] = kt;
                }
            }
            return Arrays.copyOf(out, n);
        }
        if (end <= first) {
            return new int[0];
        }
        int from = (int) (first / tile);
        int to = (int) ((end + tile - 1) / tile);
        int[] out = new int[to - from];
        for (int i = 0; i < out.length; i++) {
            out[i] = from + i;
        }
        return out;
    }

    /** True if every (row, key) of the tile is visible, so the element mask can be skipped. */
    private static boolean tileFullyVisible(AttentionSpec spec, Sequences seqs, int s, long i0, int rows, long j0,
            int cols) {
        // firstKey and endKey never decrease with the row, so the last row's first key and the first row's end
        // bound the whole tile
        return seqs.firstKey(spec, s, i0 + rows - 1) <= j0 && seqs.endKey(spec, s, i0) >= j0 + cols;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // forward

    @Override
    public void flashForward(Tensor o, Tensor lse, Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        Tensor o32 = f32Output(o);
        Sequences seqs = Sequences.of(q, k, spec);
        View qv = View.of(asF32(q));
        View kv = View.of(asF32(k));
        View vv = View.of(asF32(v));
        View ov = View.of(o32);
        int hq = (int) q.shape().dim(2);
        int hkv = (int) k.shape().dim(2);
        int group = hq / hkv;
        int tile = tileSize(spec);
        int headsPerTask = groupSharesTiles(spec) ? group : 1;
        record Task(int seq, int firstHead, int kvHead, int queryTile) {}
        List<Task> tasks = new ArrayList<>();
        for (int s = 0; s < seqs.count(); s++) {
            int tiles = BlockSparseLayout.blocksFor(seqs.nq()[s], tile);
            for (int h = 0; h < hq; h += headsPerTask) {
                for (int t = 0; t < tiles; t++) {
                    tasks.add(new Task(s, h, h / group, t));
                }
            }
        }
        ForwardOut out = new ForwardOut(ov, lse.cpu().f32(), (int) lse.offset(), hq, q.shape().dim(1));
        CpuParallel.forRange(tasks.size(), 1, (t0, t1) -> {
            ForwardTile work = new ForwardTile(tile, qv.d(), headsPerTask);
            for (int t = t0; t < t1; t++) {
                Task task = tasks.get(t);
                work.run(spec, seqs, task.seq(), task.firstHead(), task.kvHead(), task.queryTile(), qv, kv, vv, out);
            }
        });
        narrow(o, o32);
    }

    /** Where the forward pass writes: the output rows and the logsumexp (B, Hq, Nq). */
    private record ForwardOut(View o, float[] lse, int lseOff, int heads, long rowsPerBatch) {
        int lseIndex(int b, int h, long row) {
            return (int) (lseOff + ((long) b * heads + h) * rowsPerBatch + row);
        }
    }

    /** Buffers for one query tile of a group of heads; reused across the tiles a thread processes. */
    private static final class ForwardTile {
        final int tile;
        final int d;
        final int heads;
        final float[] kT;       // (D, tile): the key tile transposed, so score rows are axpys over keys
        final float[] s;        // (tile, tile) scores, then probabilities
        final float[][] acc;    // per head (tile, D) unnormalised output
        final float[][] rowMax; // per head (tile)
        final float[][] rowSum; // per head (tile)
        final float[] lanes = new float[F.length()]; // expShifted's lane sums

        ForwardTile(int tile, int d, int heads) {
            this.tile = tile;
            this.d = d;
            this.heads = heads;
            this.kT = new float[d * tile];
            this.s = new float[tile * tile];
            this.acc = new float[heads][tile * d];
            this.rowMax = new float[heads][tile];
            this.rowSum = new float[heads][tile];
        }

        void run(AttentionSpec spec, Sequences seqs, int seq, int firstHead, int kvh, int qt, View q, View k, View v,
                ForwardOut out) {
            int b = seqs.batchIndex()[seq];
            long i0 = (long) qt * tile;
            int rows = (int) Math.min(tile, seqs.nq()[seq] - i0);
            long qRow0 = seqs.qStart()[seq] + i0;
            long nk = seqs.nkAlign()[seq];
            float scale = (float) spec.softmaxScale();
            float keepScale = (float) (1 / (1 - spec.dropoutP()));
            for (int g = 0; g < heads; g++) {
                Arrays.fill(acc[g], 0, rows * d, 0f);
                Arrays.fill(rowMax[g], 0, rows, Float.NEGATIVE_INFINITY);
                Arrays.fill(rowSum[g], 0, rows, 0f);
            }
            Philox.Stream[] rng = new Philox.Stream[heads];
            if (spec.dropoutP() > 0) {
                for (int g = 0; g < heads; g++) {
                    rng[g] = new Philox.Stream(spec.seed(), seq * out.heads() + firstHead + g);
                }
            }
            for (int kt : keyTiles(spec, seqs, seq, firstHead, qt, tile, i0, i0 + rows)) {
                long j0 = (long) kt * tile;
                int cols = (int) Math.min(tile, nk - j0);
                if (cols <= 0) {
                    continue;
                }
                long kRow0 = seqs.kStart()[seq] + j0;
                loadTransposed(k, b, kRow0, kvh, cols, kT, tile);
                boolean full = tileFullyVisible(spec, seqs, seq, i0, rows, j0, cols);
                for (int g = 0; g < heads; g++) {
                    int h = firstHead + g;
                    scores(q, b, qRow0, h, rows, kT, tile, cols, scale, s);
                    if (!full) {
                        mask(spec, seqs, seq, i0, rows, j0, cols, s, tile);
                    }
                    for (int r = 0; r < rows; r++) {
                        int sr = r * tile;
                        float max = rowMax[g][r];
                        for (int c = 0; c < cols; c++) {
                            max = Math.max(max, s[sr + c]);
                        }
                        if (max == Float.NEGATIVE_INFINITY) {
                            continue; // nothing visible in this row yet
                        }
                        float corr = (float) Math.exp(rowMax[g][r] - max);
                        rowMax[g][r] = max;
                        rowSum[g][r] = rowSum[g][r] * corr + expShifted(s, sr, cols, max, lanes);
                        int ar = r * d;
                        if (corr != 1f) {
                            scaleRow(acc[g], ar, d, corr);
                        }
                        long rowBase = spec.offset() + (i0 + r) * nk + j0;
                        for (int c = 0; c < cols; c++) {
                            float p = s[sr + c];
                            if (p == 0f) {
                                continue;
                            }
                            if (rng[g] != null) {
                                // dropout touches only the output: l sums the undropped probabilities
                                if (rng[g].uniform(rowBase + c) < (float) spec.dropoutP()) {
                                    continue;
                                }
                                p *= keepScale;
                            }
                            axpy(p, v.a(), v.row(b, kRow0 + c, kvh), acc[g], ar, d);
                        }
                    }
                }
            }
            for (int g = 0; g < heads; g++) {
                int h = firstHead + g;
                for (int r = 0; r < rows; r++) {
                    int o = out.o().row(b, qRow0 + r, h);
                    int li = out.lseIndex(b, h, qRow0 + r);
                    if (rowSum[g][r] == 0f) {
                        Arrays.fill(out.o().a(), o, o + d, 0f); // no visible key: zeros, lse +inf
                        out.lse()[li] = Float.POSITIVE_INFINITY;
                        continue;
                    }
                    float inv = 1f / rowSum[g][r];
                    for (int c = 0; c < d; c++) {
                        out.o().a()[o + c] = acc[g][r * d + c] * inv;
                    }
                    out.lse()[li] = rowMax[g][r] + (float) Math.log(rowSum[g][r]);
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // backward

    @Override
    public void flashBackward(Tensor dq, Tensor dk, Tensor dv, Tensor dout, Tensor q, Tensor k, Tensor v, Tensor o,
            Tensor lse, AttentionSpec spec) {
        Tensor dq32 = f32Output(dq);
        Tensor dk32 = f32Output(dk);
        Tensor dv32 = f32Output(dv);
        Sequences seqs = Sequences.of(q, k, spec);
        View qv = View.of(asF32(q));
        View kv = View.of(asF32(k));
        View vv = View.of(asF32(v));
        View ov = View.of(asF32(o));
        View dov = View.of(asF32(dout));
        View dqv = View.of(dq32);
        View dkv = View.of(dk32);
        View dvv = View.of(dv32);
        int hq = (int) q.shape().dim(2);
        int hkv = (int) k.shape().dim(2);
        int group = hq / hkv;
        int d = qv.d();
        int tile = tileSize(spec);
        ForwardOut saved = new ForwardOut(ov, lse.cpu().f32(), (int) lse.offset(), hq, q.shape().dim(1));

        // D = rowsum(dO ∘ O), laid out like lse (without its offset)
        float[] delta = new float[(int) (q.shape().dim(0) * hq * q.shape().dim(1))];
        CpuParallel.forRange(seqs.count() * hq, 1, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int s = t / hq;
                int h = t % hq;
                int b = seqs.batchIndex()[s];
                for (long i = 0; i < seqs.nq()[s]; i++) {
                    long row = seqs.qStart()[s] + i;
                    int oi = ov.row(b, row, h);
                    int gi = dov.row(b, row, h);
                    float sum = 0;
                    for (int c = 0; c < d; c++) {
                        sum += ov.a()[oi + c] * dov.a()[gi + c];
                    }
                    delta[saved.lseIndex(b, h, row) - saved.lseOff()] = sum;
                }
            }
        });

        // tasks: (sequence, kv head, run of key tiles); a few runs per pair so the pool balances
        record Task(int seq, int kvh, int tileFrom, int tileTo) {}
        List<Task> tasks = new ArrayList<>();
        int pairs = seqs.count() * hkv;
        int runsPerPair = Math.min(MAX_RUNS, Math.max(1, (4 * CpuParallel.threads() + pairs - 1) / pairs));
        for (int s = 0; s < seqs.count(); s++) {
            int keyTilesTotal = BlockSparseLayout.blocksFor(seqs.nkAlign()[s], tile);
            int runs = Math.min(runsPerPair, Math.max(1, keyTilesTotal));
            for (int g = 0; g < hkv; g++) {
                for (int r = 0; r < runs; r++) {
                    tasks.add(new Task(s, g, (int) ((long) keyTilesTotal * r / runs),
                            (int) ((long) keyTilesTotal * (r + 1) / runs)));
                }
            }
        }
        float[][] dqPartial = new float[tasks.size()][];
        CpuParallel.forRange(tasks.size(), 1, (t0, t1) -> {
            BackwardTile work = new BackwardTile(tile, d);
            for (int t = t0; t < t1; t++) {
                Task task = tasks.get(t);
                float[] partial = new float[(int) (seqs.nq()[task.seq()] * group * d)]; // [head in group][row][c]
                dqPartial[t] = partial;
                for (int kt = task.tileFrom(); kt < task.tileTo(); kt++) {
                    work.run(spec, seqs, task.seq(), task.kvh(), group, kt, qv, kv, vv, dov, dkv, dvv, saved, delta,
                            partial);
                }
            }
        });
        // dQ = Σ over the runs of the same (sequence, kv head), in run order: deterministic
        CpuParallel.forRange(tasks.size(), 1, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                Task task = tasks.get(t);
                if (task.tileFrom() != 0) {
                    continue; // the first run of each (sequence, kv head) reduces all of them
                }
                int last = t;
                while (last + 1 < tasks.size() && tasks.get(last + 1).seq() == task.seq()
                        && tasks.get(last + 1).kvh() == task.kvh()) {
                    last++;
                }
                int s = task.seq();
                int b = seqs.batchIndex()[s];
                long nq = seqs.nq()[s];
                for (int g = 0; g < group; g++) {
                    int h = task.kvh() * group + g;
                    for (long i = 0; i < nq; i++) {
                        int dst = dqv.row(b, seqs.qStart()[s] + i, h);
                        int base = (int) ((g * nq + i) * d);
                        for (int c = 0; c < d; c++) {
                            float sum = 0;
                            for (int u = t; u <= last; u++) {
                                sum += dqPartial[u][base + c];
                            }
                            dqv.a()[dst + c] = sum;
                        }
                    }
                }
            }
        });
        narrow(dq, dq32);
        narrow(dk, dk32);
        narrow(dv, dv32);
    }

    /** Buffers for one key tile's backward; reused across tiles. */
    private static final class BackwardTile {
        final int tile;
        final int d;
        final float[] kT;   // (D, tile) key tile transposed
        final float[] vT;   // (D, tile) value tile transposed
        final float[] p;    // (tile, tile) scores, then probabilities
        final float[] dp;   // (tile, tile) dP = dO · Vᵀ
        final float[] dK;   // (tile, D)
        final float[] dV;   // (tile, D)

        BackwardTile(int tile, int d) {
            this.tile = tile;
            this.d = d;
            this.kT = new float[d * tile];
            this.vT = new float[d * tile];
            this.p = new float[tile * tile];
            this.dp = new float[tile * tile];
            this.dK = new float[tile * d];
            this.dV = new float[tile * d];
        }

        void run(AttentionSpec spec, Sequences seqs, int seq, int kvh, int group, int kt, View q, View k, View v,
                View dO, View dk, View dv, ForwardOut saved, float[] delta, float[] dqPartial) {
            int b = seqs.batchIndex()[seq];
            long nq = seqs.nq()[seq];
            long nk = seqs.nkAlign()[seq];
            long j0 = (long) kt * tile;
            int cols = (int) Math.min(tile, nk - j0);
            long kRow0 = seqs.kStart()[seq] + j0;
            Arrays.fill(dK, 0, cols * d, 0f);
            Arrays.fill(dV, 0, cols * d, 0f);
            float scale = (float) spec.softmaxScale();
            float keepScale = (float) (1 / (1 - spec.dropoutP()));
            if (cols > 0 && j0 < seqs.nkValid()[seq]) {
                loadTransposed(k, b, kRow0, kvh, cols, kT, tile);
                loadTransposed(v, b, kRow0, kvh, cols, vT, tile);
                int queryTiles = BlockSparseLayout.blocksFor(nq, tile);
                for (int g = 0; g < group; g++) {
                    int h = kvh * group + g;
                    Philox.Stream rng = spec.dropoutP() > 0
                            ? new Philox.Stream(spec.seed(), seq * saved.heads() + h) : null;
                    for (int qt = 0; qt < queryTiles; qt++) {
                        long i0 = (long) qt * tile;
                        int rows = (int) Math.min(tile, nq - i0);
                        if (!visits(spec, seqs, seq, h, qt, kt, tile, i0, rows)) {
                            continue;
                        }
                        long qRow0 = seqs.qStart()[seq] + i0;
                        scores(q, b, qRow0, h, rows, kT, tile, cols, scale, p);
                        if (!tileFullyVisible(spec, seqs, seq, i0, rows, j0, cols)) {
                            mask(spec, seqs, seq, i0, rows, j0, cols, p, tile);
                        }
                        scores(dO, b, qRow0, h, rows, vT, tile, cols, 1f, dp);
                        for (int r = 0; r < rows; r++) {
                            int sr = r * tile;
                            int li = saved.lseIndex(b, h, qRow0 + r);
                            float l = saved.lse()[li];
                            if (l == Float.POSITIVE_INFINITY) {
                                continue; // a row that saw no key has no gradient
                            }
                            float di = delta[li - saved.lseOff()];
                            int doRow = dO.row(b, qRow0 + r, h);
                            int qRow = q.row(b, qRow0 + r, h);
                            int dqRow = (int) ((g * nq + i0 + r) * d);
                            long rowBase = spec.offset() + (i0 + r) * nk + j0;
                            for (int c = 0; c < cols; c++) {
                                float pr = (float) Math.exp(p[sr + c] - l); // P = exp(S − L), 0 where masked
                                if (pr == 0f) {
                                    continue;
                                }
                                float pKept = pr;
                                float dpKept = dp[sr + c];
                                if (rng != null) {
                                    boolean keep = rng.uniform(rowBase + c) >= (float) spec.dropoutP();
                                    pKept = keep ? pr * keepScale : 0f;
                                    dpKept = keep ? dpKept * keepScale : 0f;
                                }
                                // dV_j += P̃ᵢⱼ dOᵢ ; dSᵢⱼ = Pᵢⱼ (dP̃ᵢⱼ − Dᵢ) ; dK_j += scale dSᵢⱼ Qᵢ ; dQᵢ += scale dSᵢⱼ K_j
                                if (pKept != 0f) {
                                    axpy(pKept, dO.a(), doRow, dV, c * d, d);
                                }
                                float ds = pr * (dpKept - di) * scale;
                                axpy(ds, q.a(), qRow, dK, c * d, d);
                                axpy(ds, k.a(), k.row(b, kRow0 + c, kvh), dqPartial, dqRow, d);
                            }
                        }
                    }
                }
            }
            for (int c = 0; c < cols; c++) {
                System.arraycopy(dK, c * d, dk.a(), dk.row(b, kRow0 + c, kvh), d);
                System.arraycopy(dV, c * d, dv.a(), dv.row(b, kRow0 + c, kvh), d);
            }
        }

        /** Whether query tile qt of head h visits key tile kt (the layout, then the mask bounds). */
        private static boolean visits(AttentionSpec spec, Sequences seqs, int seq, int h, int qt, int kt, int tile,
                long i0, int rows) {
            BlockSparseLayout layout = spec.layout();
            if (layout != null && !layout.isSet(h, qt, kt)) {
                return false;
            }
            long first = seqs.firstKey(spec, seq, i0);
            long end = seqs.endKey(spec, seq, i0 + rows - 1);
            return (long) kt * tile < end && (long) (kt + 1) * tile > first;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // tile math

    /** dst (D, tile) = rows [row0, row0 + cols) of head h of x, transposed. */
    private static void loadTransposed(View x, int b, long row0, int h, int cols, float[] dst, int tile) {
        int d = x.d();
        for (int c = 0; c < cols; c++) {
            int src = x.row(b, row0 + c, h);
            for (int e = 0; e < d; e++) {
                dst[e * tile + c] = x.a()[src + e];
            }
        }
    }

    /**
     * s[r][c] = scale · dot(row r of x, column c of yT) for r &lt; rows, c &lt; cols, written as axpys along the key
     * axis so the inner loop is a vector FMA rather than a horizontal reduction.
     */
    private static void scores(View x, int b, long row0, int h, int rows, float[] yT, int tile, int cols, float scale,
            float[] s) {
        int d = x.d();
        float[] xa = x.a();
        int upper = F.loopBound(cols);
        for (int r = 0; r < rows; r++) {
            int xr = x.row(b, row0 + r, h);
            int sr = r * tile;
            Arrays.fill(s, sr, sr + cols, 0f);
            for (int e = 0; e < d; e++) {
                float xe = xa[xr + e] * scale;
                int yr = e * tile;
                int c = 0;
                if (upper > 0) {
                    FloatVector xb = FloatVector.broadcast(F, xe);
                    for (; c < upper; c += F.length()) {
                        xb.fma(FloatVector.fromArray(F, yT, yr + c), FloatVector.fromArray(F, s, sr + c))
                                .intoArray(s, sr + c);
                    }
                }
                for (; c < cols; c++) {
                    s[sr + c] += xe * yT[yr + c];
                }
            }
        }
    }

    /** Sets the masked scores of a tile to −∞. */
    private static void mask(AttentionSpec spec, Sequences seqs, int seq, long i0, int rows, long j0, int cols,
            float[] s, int tile) {
        for (int r = 0; r < rows; r++) {
            long first = seqs.firstKey(spec, seq, i0 + r);
            long end = seqs.endKey(spec, seq, i0 + r);
            for (int c = 0; c < cols; c++) {
                long j = j0 + c;
                if (j < first || j >= end) {
                    s[r * tile + c] = Float.NEGATIVE_INFINITY;
                }
            }
        }
    }

    /**
     * s[off, off + n) = exp(s − max) in place; returns their sum. The same bits whatever the JIT has done: the Vector
     * API's own EXP differs by an ulp between its Java fallback and its compiled (SVML) code, so the same call gave
     * different results before and after warm-up. Lanes here use only exactly rounded operations (Cephes' expf:
     * x = k·ln 2 + r, |r| ≤ ln 2 / 2, a polynomial in r, then the exponent bits of 2ᵏ; within 1 ulp of Math.exp,
     * 0 below −87), the tail uses Math.exp (which HotSpot keeps identical across tiers), and the lane sums are added
     * in a fixed order. Kept in one method on purpose: at this size the JIT compiles it apart instead of inlining it
     * into the tile loop, whose axpys must stay inlined.
     */
    private static float expShifted(float[] s, int off, int n, float max, float[] lanes) {
        int upper = F.loopBound(n);
        FloatVector sum = FloatVector.zero(F);
        FloatVector ln2Hi = FloatVector.broadcast(F, -0.693359375f);
        FloatVector ln2Lo = FloatVector.broadcast(F, 2.12194440e-4f);
        FloatVector c0 = FloatVector.broadcast(F, 1.9875691500e-4f);
        FloatVector c1 = FloatVector.broadcast(F, 1.3981999507e-3f);
        FloatVector c2 = FloatVector.broadcast(F, 8.3334519073e-3f);
        FloatVector c3 = FloatVector.broadcast(F, 4.1665795894e-2f);
        FloatVector c4 = FloatVector.broadcast(F, 1.6666665459e-1f);
        FloatVector c5 = FloatVector.broadcast(F, 5.0000001201e-1f);
        int c = 0;
        for (; c < upper; c += F.length()) {
            FloatVector x = FloatVector.fromArray(F, s, off + c).sub(max); // ≤ 0, −∞ where masked
            VectorMask<Float> tiny = x.compare(VectorOperators.LT, -87f);
            FloatVector xc = x.max(-87f);
            // k = round(x · log2 e), as the truncation of the non-positive x · log2 e − 0.5
            IntVector k = (IntVector) xc.mul(1.44269504088896341f).sub(0.5f).convert(VectorOperators.F2I, 0);
            FloatVector kf = (FloatVector) k.convert(VectorOperators.I2F, 0);
            FloatVector r = kf.fma(ln2Lo, kf.fma(ln2Hi, xc));
            FloatVector p = c0.fma(r, c1).fma(r, c2).fma(r, c3).fma(r, c4).fma(r, c5);
            p = p.fma(r.mul(r), r).add(1f);
            FloatVector pow2k = (FloatVector) k.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            FloatVector e = p.mul(pow2k).blend(0f, tiny);
            e.intoArray(s, off + c);
            sum = sum.add(e);
        }
        sum.intoArray(lanes, 0);
        float total = 0;
        for (float lane : lanes) {
            total += lane;
        }
        for (; c < n; c++) {
            float e = (float) Math.exp(s[off + c] - max);
            s[off + c] = e;
            total += e;
        }
        return total;
    }

    /** y[yOff, yOff + n) += a · x[xOff, xOff + n). */
    private static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        int upper = F.loopBound(n);
        int c = 0;
        if (upper > 0) {
            FloatVector av = FloatVector.broadcast(F, a);
            for (; c < upper; c += F.length()) {
                av.fma(FloatVector.fromArray(F, x, xOff + c), FloatVector.fromArray(F, y, yOff + c))
                        .intoArray(y, yOff + c);
            }
        }
        for (; c < n; c++) {
            y[yOff + c] += a * x[xOff + c];
        }
    }

    /** y[off, off + n) *= a. */
    private static void scaleRow(float[] y, int off, int n, float a) {
        for (int c = 0; c < n; c++) {
            y[off + c] *= a;
        }
    }
}
