package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Autocast;
import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.activation.Activation;

/** Softmax or log-softmax along an axis. Saves only its output, from which the backward pass is computed. */
public final class Softmax extends Function {
    private final int axis;
    private final boolean log;

    private Softmax(int axis, boolean log) {
        this.axis = axis;
        this.log = log;
    }

    public static Variable apply(Variable x, int axis, boolean log) {
        x = Autocast.toF32(x); // under autocast: exponentials and sums in F32
        Tensor y = Activation.softmaxForward(x.data(), axis, log);
        Softmax fn = new Softmax(axis, log);
        Variable result = fn.record(y, x);
        if (!result.isLeaf()) {
            fn.saveForBackward(result); // the output, version-checked: the caller holds it
        }
        return result;
    }

    @Override
    public String name() {
        return log ? "LogSoftmax" : "Softmax";
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        return new Tensor[] {Activation.softmaxBackward(saved(0), g, axis, log)};
    }
}
