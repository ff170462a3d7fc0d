package ai.fulgur.autograd;

import ai.fulgur.autograd.functions.Arithmetic;
import ai.fulgur.autograd.functions.MatMul;
import ai.fulgur.autograd.functions.Reshape;
import ai.fulgur.autograd.functions.Sum;
import ai.fulgur.autograd.functions.Transpose;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.BinaryOp;
import ai.fulgur.ops.elementwise.Elementwise;
import java.util.ArrayList;
import java.util.List;

/**
 * A tensor that takes part in differentiation: its value ({@link #data()}), whether it needs a gradient, the
 * gradient accumulated into it by {@link #backward()}, and for results of ops the {@link Function} that made it.
 *
 * <p>Leaves (parameters, inputs) hold gradients; results of ops pass gradients on to their inputs. Gradients
 * accumulate across backward calls until {@link #zeroGrad()} (as in PyTorch).
 *
 * <p>{@link #zeroGrad()} is deferred: it keeps the gradient tensor and marks it as zeros, and the first contribution
 * after it overwrites the tensor (one copy) instead of adding to zeros written beforehand (a fill, then an add that
 * reads both). {@link #grad()} writes the zeros first when no contribution came, so every reader through it sees
 * exactly what the eager fill gave. {@code -Dfulgur.autograd.deferredZeroGrad=false} fills at once, as before.
 */
public final class Variable {
    /** Whether {@link #zeroGrad()} defers its fill to the next contribution or read (default true). */
    static final boolean DEFERRED_ZERO_GRAD =
            Boolean.parseBoolean(System.getProperty("fulgur.autograd.deferredZeroGrad", "true"));

    private final Tensor data;
    private final Function gradFn;
    private boolean requiresGrad;
    private Tensor grad;
    private boolean gradIsZero; // zeroGrad() deferred: grad holds stale values that read as zeros
    private int version;
    private boolean internal; // made by the engine for its own use (an autocast cast): freed once consumed
    private int pendingConsumers; // recorded ops reading an internal variable whose backward has not run yet
    private List<GradientReadyHook> gradientReadyHooks; // null while none: most leaves have none
    private int pendingContributions; // a leaf's gradient contributions that running backward passes still owe

    /** A leaf. */
    Variable(Tensor data, boolean requiresGrad) {
        this.data = data;
        this.gradFn = null;
        this.requiresGrad = requiresGrad;
    }

    /** The result of {@code gradFn}. */
    Variable(Tensor data, Function gradFn) {
        this.data = data;
        this.gradFn = gradFn;
        this.requiresGrad = true;
    }

    /** A leaf that needs no gradient: an input or a constant. */
    public static Variable constant(Tensor data) {
        return new Variable(data, false);
    }

    /** A leaf that accumulates a gradient: a parameter. Only floating tensors can be parameters. */
    public static Variable parameter(Tensor data) {
        return new Variable(data, false).setRequiresGrad(true);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // state

    public Tensor data() {
        return data;
    }

    public Shape shape() {
        return data.shape();
    }

    public DType dtype() {
        return data.dtype();
    }

    public Device device() {
        return data.device();
    }

    public boolean requiresGrad() {
        return requiresGrad;
    }

    /** Turns gradient tracking of a leaf on or off (idempotent). */
    public Variable setRequiresGrad(boolean value) {
        if (gradFn != null && !value) {
            throw new IllegalStateException("setRequiresGrad(false) on the result of " + gradFn.name()
                    + "; call detach() to get a value without history");
        }
        if (value && !data.dtype().isFloating()) {
            throw new IllegalArgumentException("only floating tensors can require gradients, this one is " + data.dtype());
        }
        this.requiresGrad = value;
        return this;
    }

    /** True for variables not produced by a recorded op. */
    public boolean isLeaf() {
        return gradFn == null;
    }

    /** The op that produced this variable, or null for a leaf. */
    public Function gradFn() {
        return gradFn;
    }

    /**
     * The accumulated gradient of a leaf, or null before any backward reached it. After {@link #zeroGrad()} with no
     * contribution since, the zeros are written now (the same tensor is returned).
     */
    public Tensor grad() {
        if (gradIsZero) {
            gradIsZero = false;
            Elementwise.fill(grad, 0);
        }
        return grad;
    }

    /** Replaces the gradient (null clears it). */
    public void setGrad(Tensor g) {
        if (g != null && !g.shape().equals(shape())) {
            throw new IllegalArgumentException("gradient shape " + g.shape() + " does not match variable shape " + shape());
        }
        this.grad = g;
        this.gradIsZero = false;
    }

    /**
     * Sets the gradient to zeros, keeping the tensor: read through {@link #grad()} it is zeros, and the next backward
     * contribution overwrites it. The fill itself is deferred (see the class comment), so a tensor taken from
     * {@code grad()} before this call shows the zeros only once {@code grad()} or a contribution has run.
     */
    public void zeroGrad() {
        if (grad != null) {
            if (DEFERRED_ZERO_GRAD) {
                gradIsZero = true;
            } else {
                Elementwise.fill(grad, 0);
            }
        }
    }

    /** Times this variable's data was modified in place; saved-for-backward checks compare it. */
    public int version() {
        return version;
    }

    /** Records that {@link #data()} was modified in place (optimizer steps, in-place ops). */
    public void bumpVersion() {
        version++;
    }

    /** A new leaf sharing this data, with no history and no gradient. */
    public Variable detach() {
        return new Variable(data, false);
    }

    /**
     * Marks a variable that only the engine holds (an autocast cast, read by the op it was made for): backward
     * frees its storage once every recorded op reading it has run its backward.
     */
    void markInternal() {
        internal = true;
    }

    boolean isInternal() {
        return internal;
    }

    /** Counts a recorded op reading this internal variable; see {@link #consumed()}. */
    void addConsumer() {
        pendingConsumers++;
    }

    /** One reader's backward has run; true when it was the last (the storage can go). */
    boolean consumed() {
        return --pendingConsumers == 0;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // gradient-ready hooks

    /**
     * Calls {@code hook} whenever a backward pass has accumulated its last contribution into this leaf's gradient
     * (see {@link GradientReadyHook}); hooks run in the order they were added.
     */
    public void addGradientReadyHook(GradientReadyHook hook) {
        if (!isLeaf()) {
            throw new IllegalStateException("gradient-ready hooks are for leaves (parameters); this variable is the "
                    + "result of " + gradFn.name());
        }
        if (hook == null) {
            throw new IllegalArgumentException("the gradient-ready hook is null");
        }
        if (gradientReadyHooks == null) {
            gradientReadyHooks = new ArrayList<>(1);
        }
        gradientReadyHooks.add(hook);
    }

    /** Removes {@code hook} (added by {@link #addGradientReadyHook}); true when it was there. */
    public boolean removeGradientReadyHook(GradientReadyHook hook) {
        boolean removed = gradientReadyHooks != null && gradientReadyHooks.remove(hook);
        if (gradientReadyHooks != null && gradientReadyHooks.isEmpty()) {
            gradientReadyHooks = null;
        }
        return removed;
    }

    /** A backward pass will make {@code n} more contributions to this leaf's gradient. */
    void expectContributions(int n) {
        pendingContributions += n;
    }

    /**
     * One expected contribution was accumulated (or turned out to be none); the last one of every running backward
     * calls the hooks. Nested passes (a recomputed block's inner backward) add to the same count, so the hooks run
     * once the outermost pass has nothing more for this leaf.
     */
    void contributionDone() {
        if (--pendingContributions == 0) {
            gradientReady();
        }
    }

    /** Calls the hooks now (a backward whose output is this leaf itself). */
    void gradientReady() {
        if (gradientReadyHooks != null) {
            for (GradientReadyHook h : List.copyOf(gradientReadyHooks)) {
                h.gradientReady(this);
            }
        }
    }

    /**
     * grad += g, g cast to this leaf's dtype: {@link ai.fulgur.autograd.functions.Cast} hands a parameter's half
     * gradient over uncast, so a zeroed gradient takes it in one casting copy and an F32 one adds it widened in one
     * pass (no F32 temporary of the parameter's size).
     */
    void accumulateGrad(Tensor g) {
        if (grad != null && gradIsZero) {
            // the first contribution since zeroGrad(): overwrite (the copy converts the dtype)
            gradIsZero = false;
            Elementwise.assign(grad, g);
            return;
        }
        if (grad == null) {
            // never alias g: the same tensor may flow to several inputs, and backward frees it after use
            grad = g.dtype() == data.dtype() ? g.copy() : g.cast(data.dtype());
        } else if (g.dtype() != grad.dtype() && Elementwise.accumulates(grad, g)) {
            Elementwise.accumulate(grad, g);
        } else {
            Elementwise.binaryInPlace(BinaryOp.ADD, grad, g.dtype() == grad.dtype() ? g : g.cast(grad.dtype()));
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // backward

    /** Back-propagates from this scalar output, then frees the graph. */
    public void backward() {
        Tape.backward(this, null, false);
    }

    /** Back-propagates {@code gradOutput} (this variable's shape), then frees the graph. */
    public void backward(Tensor gradOutput) {
        Tape.backward(this, gradOutput, false);
    }

    /** Back-propagates; with {@code retainGraph} the saved tensors stay so backward can run again. */
    public void backward(Tensor gradOutput, boolean retainGraph) {
        Tape.backward(this, gradOutput, retainGraph);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // the most used ops, for readable model code; the rest are static apply() methods on their Function classes

    public Variable add(Variable other) {
        return Arithmetic.binary(BinaryOp.ADD, this, other);
    }

    public Variable sub(Variable other) {
        return Arithmetic.binary(BinaryOp.SUB, this, other);
    }

    public Variable mul(Variable other) {
        return Arithmetic.binary(BinaryOp.MUL, this, other);
    }

    public Variable div(Variable other) {
        return Arithmetic.binary(BinaryOp.DIV, this, other);
    }

    public Variable matmul(Variable other) {
        return MatMul.apply(this, other);
    }

    public Variable sum() {
        return Sum.apply(this, new int[0], false, false);
    }

    public Variable mean() {
        return Sum.apply(this, new int[0], false, true);
    }

    public Variable reshape(long... dims) {
        return Reshape.apply(this, Shape.of(shape().reshapeTarget(dims).dims()));
    }

    public Variable transpose(int axis0, int axis1) {
        return Transpose.apply(this, axis0, axis1);
    }

    @Override
    public String toString() {
        return "Variable" + shape() + " " + dtype() + " " + device() + (requiresGrad ? " requiresGrad" : "")
                + (gradFn != null ? " gradFn=" + gradFn.name() : "");
    }
}
