package ai.fulgur.autograd;

import ai.fulgur.autograd.functions.Cast;
import ai.fulgur.ops.DType;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Mixed precision by op, per thread, as PyTorch's {@code torch.autocast}: parameters stay F32 (the master weights the
 * optimizer updates), and inside a scope the ops that gain from tensor cores compute in a half type. What each op does
 * under a scope:
 *
 * <pre>
 *   half list   Linear, MatMul, FlashAttention   floating inputs cast to the scope's type (BF16 or F16); products
 *                                                accumulate in F32 inside the kernels; the result is half
 *   F32 list    LayerNorm, Softmax               a half input is cast to F32 (statistics and exponentials in F32);
 *                                                inside {@link #forHalfReader} layer norm writes the half type
 *   own rule    CrossEntropy                     takes half logits as they are: its kernels widen each row to F32
 *                                                and return an F32 loss, so no F32 copy of (rows, V) is made
 *   promotion   Arithmetic on F32 and half       the half operand is widened (the residual stream stays F32);
 *                                                an add of same-shaped operands widens it inside the add's kernel
 *                                                and sends the half operand its gradient in half
 * </pre>
 *
 * Casts are autograd {@link Cast} functions, so the half gradients flow back to the F32 parameters. A parameter (a
 * leaf that requires a gradient) is cast once per scope and the cast reused by every op that reads it, until its
 * version changes (an optimizer step), as PyTorch's autocast weight cache does. Casts belong to the engine: backward
 * frees each one as soon as the ops that read it have run their backward (without waiting for the garbage
 * collector).
 *
 * <pre>{@code
 * try (Autocast.Scope s = Autocast.enable(DType.BF16)) {
 *     loss = model.forward(x);      // GEMMs and attention in BF16, norms and the loss in F32
 * }
 * loss.backward();                  // outside the scope, as in PyTorch
 * }</pre>
 */
public final class Autocast {
    private static final ThreadLocal<Scope> CURRENT = new ThreadLocal<>();

    private Autocast() {}

    /**
     * Opens a scope computing the half-list ops in {@code dtype}; closing it restores the enclosing scope (or none).
     *
     * @throws IllegalArgumentException unless dtype is BF16 or F16
     */
    public static Scope enable(DType dtype) {
        if (dtype != DType.BF16 && dtype != DType.F16) {
            throw new IllegalArgumentException("autocast computes in BF16 or F16, got " + dtype
                    + "; for full precision open no scope");
        }
        Scope scope = new Scope(dtype, CURRENT.get());
        CURRENT.set(scope);
        return scope;
    }

    /** A scope that turns autocast off until closed (e.g. for a part that must run in F32). */
    public static Scope disable() {
        Scope scope = new Scope(null, CURRENT.get());
        CURRENT.set(scope);
        return scope;
    }

    /** The half type of the innermost open scope, or null when autocast is off on this thread. */
    public static DType dtype() {
        Scope s = CURRENT.get();
        return s == null ? null : s.dtype;
    }

    /** True when a scope is open on this thread. */
    public static boolean isEnabled() {
        return dtype() != null;
    }

    /**
     * For a half-list op: {@code x} cast to the scope's type when autocast is on and x is floating of another type;
     * else x itself. Null stays null (an absent bias).
     */
    public static Variable toHalf(Variable x) {
        Scope s = CURRENT.get();
        if (s == null || s.dtype == null || x == null || !x.dtype().isFloating() || x.dtype() == s.dtype) {
            return x;
        }
        return s.cast(x, s.dtype);
    }

    /** For an F32-list op: a half {@code x} cast to F32 when autocast is on; else x itself. */
    public static Variable toF32(Variable x) {
        Scope s = CURRENT.get();
        if (s == null || s.dtype == null || x == null || !x.dtype().isHalf()) {
            return x;
        }
        return s.cast(x, DType.F32);
    }

    /**
     * For element-wise arithmetic: when autocast is on and {@code a}, {@code b} are floating of different types, the
     * narrower cast to the wider (F32 over the half types); else the operands unchanged.
     */
    public static Variable[] promote(Variable a, Variable b) {
        Scope s = CURRENT.get();
        if (s == null || s.dtype == null || a.dtype() == b.dtype() || !a.dtype().isFloating()
                || !b.dtype().isFloating()) {
            return new Variable[] {a, b};
        }
        if (a.dtype().isHalf() && !b.dtype().isHalf()) {
            return new Variable[] {s.cast(a, b.dtype()), b};
        }
        if (b.dtype().isHalf() && !a.dtype().isHalf()) {
            return new Variable[] {a, s.cast(b, a.dtype())};
        }
        return new Variable[] {a, b}; // BF16 with F16, or F32 with F64: left to the op, which names the mismatch
    }

    /**
     * {@code -Dfulgur.autocast.halfReaderOutput=false} turns {@link #forHalfReader} off. On by default since its CUDA
     * kernels (layernorm_mixed.cu) passed their gpu tests and the replayed GPT-2 124M bf16 step ran 18.55 -> 17.91 ms
     * with it on an H200 (docs/PERF.md, session 5's final merge). Read at each call, so a test can set it.
     */
    static final String HALF_READER_OUTPUT = "fulgur.autocast.halfReaderOutput";
    private static final ThreadLocal<int[]> HALF_READERS = ThreadLocal.withInitial(() -> new int[1]);

    /**
     * Marks, until closed, results whose only reader is a half-list op: a pre-LN transformer's layer norm feeds only
     * its projection GEMM. Under an autocast scope a layer norm inside the mark computes in F32 as always and writes its
     * output in the scope's half type directly, which is the value the GEMM's input cast would make, without that
     * cast's two passes; its backward takes the half gradient and returns F32 ones. Without a scope it changes nothing.
     * Only code that knows every reader may open it (a post-LN residual stream, read by F32 adds, must stay F32).
     */
    public static HalfReader forHalfReader() {
        HALF_READERS.get()[0]++;
        return new HalfReader();
    }

    /** The half type an F32-list op in a {@link #forHalfReader} mark writes, or null (F32 as usual). */
    public static DType halfReaderOutput() {
        return HALF_READERS.get()[0] > 0 && Boolean.parseBoolean(System.getProperty(HALF_READER_OUTPUT, "true"))
                ? dtype() : null;
    }

    /** The mark opened by {@link #forHalfReader}; close ends it (once). */
    public static final class HalfReader implements AutoCloseable {
        private boolean closed;

        private HalfReader() {}

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                HALF_READERS.get()[0]--;
            }
        }
    }

    /** An autocast region; close restores the enclosing one and drops the cached parameter casts. */
    public static final class Scope implements AutoCloseable {
        private final DType dtype;
        private final Scope previous;
        // parameter -> (its version when cast, the cast), so a parameter read by several ops is cast once per step
        private final Map<Variable, CachedCast> casts = new IdentityHashMap<>();
        private boolean closed;

        private Scope(DType dtype, Scope previous) {
            this.dtype = dtype;
            this.previous = previous;
        }

        /** The scope's half type, or null for a scope that disables autocast. */
        public DType dtype() {
            return dtype;
        }

        /** How many parameter casts this scope holds (for tests of the cache). */
        public int cachedCasts() {
            return casts.size();
        }

        private Variable cast(Variable x, DType to) {
            boolean parameter = x.isLeaf() && x.requiresGrad() && to == dtype;
            if (!parameter) {
                return internal(Cast.apply(x, to));
            }
            CachedCast c = casts.get(x);
            // a cast made with recording off has no graph node: reuse it only under the same mode
            // nor after a backward freed its node (gradient accumulation runs several graphs in one scope)
            if (c == null || c.version != x.version() || c.recorded != GradMode.isEnabled()
                    || c.cast.gradFn() != null && c.cast.gradFn().isReleased()) {
                c = new CachedCast(x.version(), GradMode.isEnabled(), internal(Cast.apply(x, to)));
                casts.put(x, c);
            }
            return c.cast;
        }

        /** A cast only the engine holds: backward frees it once the ops reading it are done (see Tape). */
        private static Variable internal(Variable cast) {
            cast.markInternal();
            return cast;
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            if (CURRENT.get() != this) {
                throw new IllegalStateException("autocast scopes must be closed innermost first");
            }
            closed = true;
            casts.clear();
            if (previous == null) {
                CURRENT.remove();
            } else {
                CURRENT.set(previous);
            }
        }
    }

    private record CachedCast(int version, boolean recorded, Variable cast) {}
}
