package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.activation.Activation;
import ai.fulgur.ops.activation.GeluForm;

/** GELU in the exact (erf) or tanh form. Saves its input; backward multiplies by gelu'(x). */
public final class Gelu extends Function {
    private final GeluForm form;

    private Gelu(GeluForm form) {
        this.form = form;
    }

    public static Variable apply(Variable x, GeluForm form) {
        Tensor y = Activation.geluForward(x.data(), form);
        Gelu fn = new Gelu(form);
        Variable result = fn.record(y, x);
        if (!result.isLeaf()) {
            fn.saveForBackward(x);
        }
        return result;
    }

    @Override
    public String name() {
        return "Gelu(" + form + ")";
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        return new Tensor[] {Activation.geluBackward(saved(0), g, form)};
    }
}
