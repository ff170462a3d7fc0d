package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.optim.AdamGroup;
import ai.fulgur.ops.optim.AdamParams;
import ai.fulgur.ops.optim.OptimKernels;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Optimizer updates on the GPU (adamw.cu), in place. Each tensor keeps its own dtype (F32, BF16, F16 or F64; F32
 * moments with BF16 parameters work); the math is in float, or in double when a tensor is F64. F32 parameters and
 * moments with an F32 or BF16 gradient, aligned, take a vector path (four elements a load).
 *
 * <p>{@link #adamUpdateMany} updates many parameter tensors in one launch from a device array of {w, g, m, v, n,
 * dtypes, firstChunk, decay} rows ({@link AdamTensorTable}); the arrays are cached by content, so a training loop that
 * passes the same tensors every step uploads them once. Inside CUDA graph capture a cached array is pinned (never
 * evicted, since the graph keeps reading it), and a new one is uploaded by a copy recorded in the graph, not cached.
 */
public final class CudaOptim implements OptimKernels {
    private static final String MODULE = "adamw";
    private static final int THREADS = 256;
    /** Elements per block and chunk; ADAM_CHUNK in adamw.cu. */
    static final int CHUNK = 16384;
    private static final int CACHED_DESCRIPTORS = 16;

    /** Uploaded descriptor arrays by content, least recently used first. */
    private final Map<Key, Table> descriptors = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, Table> eldest) {
            if (size() > CACHED_DESCRIPTORS && !eldest.getValue().pinned) {
                eldest.getValue().storage.close(); // stream order keeps a pending launch's reads ahead of any reuse
                return true;
            }
            return false;
        }
    };

    /** An uploaded descriptor array; pinned once a captured graph reads it. */
    private static final class Table {
        final CudaStorage storage;
        boolean pinned;

        Table(CudaStorage storage) {
            this.storage = storage;
        }
    }

    private record Key(int device, long[] words) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.device == device && Arrays.equals(k.words, words);
        }

        @Override
        public int hashCode() {
            return 31 * device + Arrays.hashCode(words);
        }
    }

    CudaOptim() {}

    private static void checkFloating(String op, String name, Tensor t) {
        if (!t.dtype().isFloating()) {
            throw new IllegalArgumentException(op + ": " + name + " must be floating, got " + t.dtype());
        }
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(op + ": " + name + " " + t + " must be contiguous");
        }
    }

    private static void checkGroup(String op, Tensor w, Tensor g, Tensor m, Tensor v) {
        checkFloating(op, "w", w);
        checkFloating(op, "g", g);
        checkFloating(op, "m", m);
        checkFloating(op, "v", v);
        if (g.numel() != w.numel() || m.numel() != w.numel() || v.numel() != w.numel()) {
            throw new IllegalArgumentException(op + ": w " + w.shape() + ", g " + g.shape() + ", m " + m.shape()
                    + " and v " + v.shape() + " must have the same number of elements");
        }
    }

    private static long types(Tensor w, Tensor g, Tensor m, Tensor v) {
        return w.dtype().ordinal() | (long) g.dtype().ordinal() << 8 | (long) m.dtype().ordinal() << 16
                | (long) v.dtype().ordinal() << 24;
    }

    private static boolean anyF64(Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null && t.dtype() == DType.F64) {
                return true;
            }
        }
        return false;
    }

    /** The kernels' Adam scalars, in the order of ADAM_SCALARS in adamw.cu. */
    private static Object[] scalars(AdamParams p) {
        return new Object[] {p.lr(), p.beta1(), p.beta2(), p.eps(), p.weightDecay(), p.decoupled() ? 1 : 0,
                p.lr() / p.bc1(), Math.sqrt(p.bc2()), p.rescaleGrad(), p.clipGrad()};
    }

    private static Object[] concat(Object[] a, Object[] b) {
        Object[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static long grid(CudaDevice d, long chunks) {
        return Math.max(1, Math.min(chunks, (long) d.multiprocessors() * 8));
    }

    // w, g, m, v (n)
    @Override
    public void adamUpdate(Tensor w, Tensor g, Tensor m, Tensor v, AdamParams p) {
        checkGroup("adamUpdate", w, g, m, v);
        long n = w.numel();
        CudaDevice d = CudaTensors.device(w);
        String kernel = "adam_update_" + (anyF64(w, g, m, v) ? "f64" : "f32");
        Object[] head = {CudaTensors.first(w), w.dtype().ordinal(), CudaTensors.first(g), g.dtype().ordinal(),
                CudaTensors.first(m), m.dtype().ordinal(), CudaTensors.first(v), v.dtype().ordinal(), n};
        d.launch(MODULE, kernel, grid(d, (n + CHUNK - 1) / CHUNK), THREADS, 0, concat(head, scalars(p)));
    }

    // w, g, m, v (n); step (3) F32 {lr, lr / bc1, √bc2} read by the kernel
    @Override
    public void adamUpdateWithStepScalars(Tensor w, Tensor g, Tensor m, Tensor v, AdamParams p, Tensor step) {
        checkGroup("adamUpdate", w, g, m, v);
        long n = w.numel();
        CudaDevice d = CudaTensors.device(w);
        String kernel = "adam_update_stepped_" + (anyF64(w, g, m, v) ? "f64" : "f32");
        d.launch(MODULE, kernel, grid(d, (n + CHUNK - 1) / CHUNK), THREADS, 0, CudaTensors.first(w),
                w.dtype().ordinal(), CudaTensors.first(g), g.dtype().ordinal(), CudaTensors.first(m),
                m.dtype().ordinal(), CudaTensors.first(v), v.dtype().ordinal(), n, CudaTensors.first(step), p.beta1(),
                p.beta2(), p.eps(), p.weightDecay(), p.decoupled() ? 1 : 0, p.rescaleGrad(), p.clipGrad());
    }

    /**
     * One Adam/AdamW step on every group in one launch (all on one device), each exactly as {@link #adamUpdate}
     * would update it (weight decay 0 where the group's decay flag is off). Blocks take chunks of 16384 elements
     * numbered across the tensors.
     */
    @Override
    public void adamUpdateMany(List<AdamGroup> groups, AdamParams p) {
        launchMany(groups, "adam_update_many_", concat(new Object[0], scalars(p)), null);
    }

    /** {@link #adamUpdateMany} reading {lr, lr / bc1, √bc2} from {@code step} in the kernel (graph replay). */
    @Override
    public void adamUpdateManyWithStepScalars(List<AdamGroup> groups, AdamParams p, Tensor step) {
        if (step.dtype() != DType.F32 || step.numel() != 3 || !step.isContiguous()) {
            throw new IllegalArgumentException("adamUpdateMany: step scalars must be a contiguous F32 tensor of 3 "
                    + "elements {lr, lr/bc1, sqrt(bc2)}, got " + step);
        }
        Object[] tail = {CudaTensors.first(step), p.beta1(), p.beta2(), p.eps(), p.weightDecay(),
                p.decoupled() ? 1 : 0, p.rescaleGrad(), p.clipGrad()};
        launchMany(groups, "adam_update_many_stepped_", tail, step);
    }

    private void launchMany(List<AdamGroup> groups, String kernel, Object[] tail, Tensor step) {
        if (groups.isEmpty()) {
            return;
        }
        CudaDevice d = CudaTensors.device(groups.get(0).w());
        if (step != null && CudaTensors.device(step) != d) {
            throw new IllegalArgumentException("adamUpdateMany: step scalars " + step + " are not on " + d);
        }
        AdamTensorTable table = new AdamTensorTable(CHUNK, groups.size());
        boolean f64 = false;
        for (int i = 0; i < groups.size(); i++) {
            AdamGroup t = groups.get(i);
            checkGroup("adamUpdateMany group " + i, t.w(), t.g(), t.m(), t.v());
            for (Tensor x : new Tensor[] {t.w(), t.g(), t.m(), t.v()}) {
                if (CudaTensors.device(x) != d) {
                    throw new IllegalArgumentException("adamUpdateMany: group " + i + " tensor " + x + " is not on "
                            + d);
                }
            }
            if (table.add(CudaTensors.first(t.w()), CudaTensors.first(t.g()), CudaTensors.first(t.m()),
                    CudaTensors.first(t.v()), t.w().numel(), types(t.w(), t.g(), t.m(), t.v()), t.decay())) {
                f64 |= anyF64(t.w(), t.g(), t.m(), t.v());
            }
        }
        if (table.count() == 0) {
            return;
        }
        long[] words = table.words();
        Object[] head = {0L, table.count(), table.totalChunks()};
        String name = kernel + (f64 ? "f64" : "f32");
        long chunks = table.totalChunks();
        synchronized (this) {
            Key key = new Key(d.index(), words);
            Table cached = descriptors.get(key);
            if (cached == null && d.isCapturing()) {
                // uploaded by a copy recorded in the graph (it runs at every replay); not cached, since the copy has
                // not run yet; freed in stream order after the launch, as a temporary of the captured step
                CudaStorage once = upload(d, words);
                head[0] = once.address(0);
                d.launch(MODULE, name, grid(d, chunks), THREADS, 0, concat(head, tail));
                once.close();
                return;
            }
            if (cached == null) {
                cached = new Table(upload(d, words));
                descriptors.put(key, cached);
            }
            cached.pinned |= d.isCapturing();
            head[0] = cached.storage.address(0);
        }
        d.launch(MODULE, name, grid(d, chunks), THREADS, 0, concat(head, tail));
    }

    private static CudaStorage upload(CudaDevice d, long[] words) {
        CudaStorage s = new CudaStorage(d, DType.I64, words.length);
        d.copyToDevice(s.pointer(0), words, (long) words.length * Long.BYTES);
        return s;
    }

    // w, g, state (n); state null when momentum is 0
    @Override
    public void sgdUpdate(Tensor w, Tensor g, Tensor state, double lr, double weightDecay, double momentum,
            double rescaleGrad, double clipGrad) {
        checkFloating("sgdUpdate", "w", w);
        checkFloating("sgdUpdate", "g", g);
        if (momentum != 0) {
            if (state == null) {
                throw new IllegalArgumentException("sgdUpdate: momentum " + momentum + " needs a state tensor");
            }
            checkFloating("sgdUpdate", "state", state);
        }
        boolean useState = momentum != 0;
        if (g.numel() != w.numel() || (useState && state.numel() != w.numel())) {
            throw new IllegalArgumentException("sgdUpdate: w " + w.shape() + ", g " + g.shape()
                    + (useState ? " and state " + state.shape() : "") + " must have the same number of elements");
        }
        long n = w.numel();
        CudaDevice d = CudaTensors.device(w);
        String kernel = "sgd_update_" + (anyF64(w, g, useState ? state : null) ? "f64" : "f32");
        d.launch(MODULE, kernel, CudaTensors.blocksFor(d, n, THREADS), THREADS, 0, CudaTensors.first(w),
                w.dtype().ordinal(), CudaTensors.first(g), g.dtype().ordinal(),
                useState ? CudaTensors.first(state) : 0L, useState ? state.dtype().ordinal() : DType.F32.ordinal(), n,
                lr, weightDecay, momentum, rescaleGrad, clipGrad);
    }
}
