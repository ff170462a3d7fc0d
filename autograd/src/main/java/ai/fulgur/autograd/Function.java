package ai.fulgur.autograd;

import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import java.util.Arrays;

/**
 * A node of the graph: one differentiable op. A subclass computes its forward result in its static {@code apply},
 * keeps what the backward pass needs as fields, and maps the output gradient to one gradient per input in
 * {@link #backward}. Forward and backward of an op live side by side in one class.
 *
 * <p>Saved tensors are checked against in-place modification through {@link #saveForBackward}: an optimizer step
 * or an in-place op between forward and backward makes backward fail instead of computing a wrong gradient.
 */
public abstract class Function {
    private Variable[] inputs;
    private Variable[] saved = new Variable[0];
    private int[] savedVersions = new int[0];
    private Tensor[] internals = new Tensor[0];
    private boolean released;

    /** The op's name, for graph printing and error messages. */
    public String name() {
        return getClass().getSimpleName();
    }

    /**
     * Gradients of the loss with respect to each input, given the gradient of the output; an entry may be null for
     * an input that does not require a gradient ({@link #needsGrad(int)} tells).
     */
    protected abstract Tensor[] backward(Tensor gradOutput);

    /** True if input {@code i} needs a gradient, so backward can skip work for the others. */
    protected final boolean needsGrad(int i) {
        return inputs[i] != null && inputs[i].requiresGrad();
    }

    /**
     * Wraps {@code output} as the result of this op applied to {@code inputs}: recorded in the graph if grad mode is
     * on and an input requires a gradient, else a plain constant.
     */
    protected final Variable record(Tensor output, Variable... inputs) {
        if (!GradMode.isEnabled() || Arrays.stream(inputs).noneMatch(v -> v != null && v.requiresGrad())) {
            return new Variable(output, false);
        }
        this.inputs = inputs;
        for (Variable v : inputs) {
            if (v != null && v.isInternal()) {
                v.addConsumer();
            }
        }
        return new Variable(output, this);
    }

    /** True if a call to {@link #record} with these inputs will record: lets apply() skip saving when it won't. */
    protected static boolean willRecord(Variable... inputs) {
        if (!GradMode.isEnabled()) {
            return false;
        }
        for (Variable v : inputs) {
            if (v != null && v.requiresGrad()) {
                return true;
            }
        }
        return false;
    }

    /**
     * True if input {@code i} is a leaf (a parameter): the tape accumulates into it with
     * {@code Variable.accumulateGrad}, which casts a gradient of another floating type itself.
     */
    protected final boolean inputIsLeaf(int i) {
        return inputs[i] != null && inputs[i].isLeaf();
    }

    /** The shape of input {@code i} (for summing a broadcast gradient back to it). */
    protected final Shape inputShape(int i) {
        return inputs[i].shape();
    }

    /** Remembers variables whose current values backward reads, with their versions. */
    protected final void saveForBackward(Variable... vars) {
        this.saved = vars.clone();
        this.savedVersions = new int[vars.length];
        for (int i = 0; i < vars.length; i++) {
            savedVersions[i] = vars[i] == null ? 0 : vars[i].version();
        }
    }

    /**
     * Remembers tensors the op computed for itself (layer norm's row statistics, cross-entropy's logsumexp); no user
     * holds them, so they need no version check.
     */
    protected final void saveInternals(Tensor... tensors) {
        this.internals = tensors.clone();
    }

    /** Internal tensor {@code i} saved by {@link #saveInternals}. */
    protected final Tensor internal(int i) {
        return internals[i];
    }

    /** The data of saved variable {@code i}, failing if it was modified in place since it was saved. */
    protected final Tensor saved(int i) {
        if (released) {
            throw new IllegalStateException(name() + ": backward was already run through this graph and its saved "
                    + "tensors were freed; pass retainGraph=true to the first backward to run it twice");
        }
        Variable v = saved[i];
        if (v.version() != savedVersions[i]) {
            throw new IllegalStateException(name() + ": a tensor saved for backward (" + v.data().shape()
                    + ") was modified in place (version " + savedVersions[i] + " -> " + v.version()
                    + ") between forward and backward");
        }
        return v.data();
    }

    Variable[] inputs() {
        return inputs;
    }

    Tensor[] runBackward(Tensor gradOutput) {
        if (released) {
            throw new IllegalStateException(name() + ": backward was already run through this graph and its saved "
                    + "tensors were freed; pass retainGraph=true to the first backward to run it twice");
        }
        return backward(gradOutput);
    }

    /** Drops saved tensors and the links to inputs once backward has used them. */
    void release() {
        released = true;
        saved = new Variable[0];
        internals = new Tensor[0];
        inputs = new Variable[0];
    }

    boolean isReleased() {
        return released;
    }
}
