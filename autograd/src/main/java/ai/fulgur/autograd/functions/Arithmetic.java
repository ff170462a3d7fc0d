package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Autocast;
import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.BinaryOp;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.reduce.Reduce;

/**
 * Broadcasting binary arithmetic: add, sub, mul, div, pow, max, min. One derivative table for all of them; each
 * gradient is summed back over the axes its input was broadcast along.
 */
public final class Arithmetic extends Function {
    /**
     * {@code -Dfulgur.autocast.wideningAdd=false} widens the half operand of an F32 + half add by a cast first (the
     * path before, for measurements). Default: under autocast an add of same-shaped F32 and half operands (the
     * residual stream plus a branch output) reads the half operand as it is and widens it in the add's kernel.
     */
    private static final boolean WIDENING_ADD = !"false".equals(System.getProperty("fulgur.autocast.wideningAdd"));

    private final BinaryOp op;
    private DType[] inputTypes; // set for a widening add: its gradients go back in each input's own type

    private Arithmetic(BinaryOp op) {
        this.op = op;
    }

    /** a op b; comparisons and logical ops give a BOOL constant (they have no gradient). */
    public static Variable binary(BinaryOp op, Variable a, Variable b) {
        if (op == BinaryOp.ADD && WIDENING_ADD && Autocast.isEnabled() && a.dtype() != b.dtype()
                && a.shape().equals(b.shape()) && Elementwise.widens(a.data(), b.data())) {
            // F32 + half as autocast's promotion defines it, without the F32 copy of the half operand
            Arithmetic fn = new Arithmetic(op);
            fn.inputTypes = new DType[] {a.dtype(), b.dtype()};
            return fn.record(Elementwise.addWidening(a.data(), b.data()), a, b);
        }
        Variable[] promoted = Autocast.promote(a, b); // under autocast F32 + half widens the half operand
        a = promoted[0];
        b = promoted[1];
        Tensor out = Elementwise.binary(op, a.data(), b.data());
        if (op.isComparison() || op == BinaryOp.MOD) {
            return Variable.constant(out);
        }
        Arithmetic fn = new Arithmetic(op);
        boolean needsValues = op != BinaryOp.ADD && op != BinaryOp.SUB;
        Variable result = fn.record(out, a, b);
        if (needsValues && !result.isLeaf()) {
            if (op == BinaryOp.POW || op == BinaryOp.MAX || op == BinaryOp.MIN) {
                fn.saveForBackward(a, b, result); // the output too, version-checked: the caller holds it
            } else {
                fn.saveForBackward(a, b);
            }
        }
        return result;
    }

    @Override
    public String name() {
        return "Arithmetic(" + op + ")";
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor[] grads = new Tensor[2];
        switch (op) {
            case ADD -> {
                grads[0] = g;
                grads[1] = g;
            }
            case SUB -> {
                grads[0] = g;
                grads[1] = needsGrad(1) ? Elementwise.neg(g) : null;
            }
            case MUL -> {
                grads[0] = needsGrad(0) ? Elementwise.mul(g, saved(1)) : null;
                grads[1] = needsGrad(1) ? Elementwise.mul(g, saved(0)) : null;
            }
            case DIV -> {
                // d(a/b)/da = 1/b; d(a/b)/db = −a/b²
                Tensor b = saved(1);
                grads[0] = needsGrad(0) ? Elementwise.div(g, b) : null;
                grads[1] = needsGrad(1) ? Elementwise.neg(Elementwise.div(Elementwise.mul(g, saved(0)),
                        Elementwise.mul(b, b))) : null;
            }
            case POW -> {
                // d(a^b)/da = b·a^(b−1); d(a^b)/db = a^b·ln a
                Tensor a = saved(0);
                Tensor b = saved(1);
                if (needsGrad(0)) {
                    Tensor pm1 = Elementwise.binary(BinaryOp.POW, a, Elementwise.addScalar(b, -1));
                    grads[0] = Elementwise.mul(g, Elementwise.mul(b, pm1));
                }
                if (needsGrad(1)) {
                    grads[1] = Elementwise.mul(g, Elementwise.mul(saved(2), Elementwise.log(a)));
                }
            }
            case MAX, MIN -> {
                // the gradient goes to the selected input; ties split it evenly, as PyTorch's maximum/minimum
                Tensor a = saved(0);
                Tensor b = saved(1);
                Tensor out = saved(2);
                Tensor eqA = Elementwise.binary(BinaryOp.EQ, a, out).cast(g.dtype());
                Tensor eqB = Elementwise.binary(BinaryOp.EQ, b, out).cast(g.dtype());
                Tensor share = Elementwise.add(eqA, eqB);
                grads[0] = needsGrad(0) ? Elementwise.div(Elementwise.mul(g, eqA), share) : null;
                grads[1] = needsGrad(1) ? Elementwise.div(Elementwise.mul(g, eqB), share) : null;
            }
            default -> throw new IllegalStateException(op + " has no gradient");
        }
        for (int i = 0; i < 2; i++) {
            grads[i] = grads[i] != null && needsGrad(i) ? Reduce.sumToShape(grads[i], inputShape(i)) : null;
            if (grads[i] != null && inputTypes != null && grads[i].dtype() != inputTypes[i]) {
                grads[i] = grads[i].cast(inputTypes[i]); // the half branch of a widening add
            }
        }
        return grads;
    }
}
