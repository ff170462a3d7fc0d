package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Autocast;
import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.GradMode;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/**
 * Activation recomputation (gradient checkpointing): a sub-graph runs forward without recording, so none of its
 * intermediate activations is kept, only its inputs; the backward pass runs it again with recording on and
 * backpropagates through that fresh graph. Memory for a stack of layers drops from all their activations to their
 * inputs (plus one layer's activations during its backward), for one extra forward per layer.
 *
 * <p>The body's parameters are passed as inputs too, so the node is recorded whenever one of them needs a gradient
 * (even if the activation input does not); their gradients are accumulated by the inner backward, so this node
 * returns none for them. A body that draws random numbers (dropout) must draw the same ones again: the caller's
 * {@code randomState} captures the stream before the forward and is restored for the replay, then put back. The
 * replay runs under the forward's {@link Autocast} type (the backward runs outside any scope), so it computes what
 * the forward computed.
 */
public final class Recompute extends Function {

    /** A captured state of the random stream, which can be put back. */
    @FunctionalInterface
    public interface RandomState {
        /** Makes the stream continue from this state. */
        void restore();
    }

    private final UnaryOperator<Variable> body;
    private final Supplier<RandomState> randomState;
    private final RandomState before;
    private Variable input;
    private int inputCount;
    private DType autocast;

    private Recompute(UnaryOperator<Variable> body, Supplier<RandomState> randomState, RandomState before) {
        this.body = body;
        this.randomState = randomState;
        this.before = before;
    }

    /**
     * body(x), recording only its input: the body's activations are recomputed in the backward pass.
     *
     * @param body        the sub-graph, a function of x that reads {@code parameters} itself
     * @param x           its input
     * @param parameters  the leaves the body reads that may need gradients
     * @param randomState captures the random stream (dropout) for an identical replay
     */
    public static Variable apply(UnaryOperator<Variable> body, Variable x, Variable[] parameters,
            Supplier<RandomState> randomState) {
        Variable[] inputs = new Variable[parameters.length + 1];
        inputs[0] = x;
        System.arraycopy(parameters, 0, inputs, 1, parameters.length);
        if (!willRecord(inputs)) {
            return body.apply(x);
        }
        Recompute fn = new Recompute(body, randomState, randomState.get());
        Tensor out;
        try (GradMode.Scope s = GradMode.disable()) {
            out = body.apply(x).data();
        }
        fn.input = x;
        fn.inputCount = inputs.length;
        fn.autocast = Autocast.dtype();
        fn.saveForBackward(x);
        return fn.record(out, inputs);
    }

    @Override
    protected Tensor[] backward(Tensor gradOutput) {
        Tensor[] grads = new Tensor[inputCount];
        RandomState now = randomState.get();
        before.restore();
        Variable x = input.requiresGrad() ? Variable.parameter(saved(0)) : Variable.constant(saved(0));
        Variable y;
        try (GradMode.Scope s = GradMode.set(true);
                Autocast.Scope a = autocast == null ? Autocast.disable() : Autocast.enable(autocast)) {
            y = body.apply(x);
        } finally {
            now.restore();
        }
        if (y.requiresGrad()) {
            y.backward(gradOutput);
        }
        grads[0] = input.requiresGrad() ? x.grad() : null;
        input = null;
        return grads;
    }
}
