package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Autocast;
import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.linalg.Linalg;
import ai.fulgur.ops.reduce.Reduce;

/**
 * Matrix product with torch.matmul's shape rules. Backward: dA = dC · Bᵀ, dB = Aᵀ · dC, summed over broadcast
 * batch axes; 1-D operands are promoted to matrices so the same formulas hold. Under {@link Autocast} both operands
 * are cast to the scope's half type first.
 */
public final class MatMul extends Function {

    public static Variable apply(Variable a, Variable b) {
        a = Autocast.toHalf(a);
        b = Autocast.toHalf(b);
        Tensor out = Linalg.matmul(a.data(), b.data());
        MatMul fn = new MatMul();
        Variable result = fn.record(out, a, b);
        if (!result.isLeaf()) {
            fn.saveForBackward(a, b);
        }
        return result;
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor a = saved(0);
        Tensor b = saved(1);
        // promote vectors as the forward did: a (K) -> (1, K), b (K) -> (K, 1); the gradient gains those axes back
        Tensor a2 = a.rank() == 1 ? a.unsqueeze(0) : a;
        Tensor b2 = b.rank() == 1 ? b.unsqueeze(1) : b;
        Tensor g2 = g;
        if (a.rank() == 1) {
            g2 = g2.unsqueeze(g2.rank() - (b.rank() == 1 ? 0 : 1));
        }
        if (b.rank() == 1) {
            g2 = g2.unsqueeze(g2.rank());
        }
        Tensor da = null;
        Tensor db = null;
        if (needsGrad(0)) {
            Tensor full = Linalg.matmul(g2, b2.transpose(-1, -2));
            da = Reduce.sumToShape(full, a2.shape()).reshape(a.shape());
        }
        if (needsGrad(1)) {
            Tensor full = Linalg.matmul(a2.transpose(-1, -2), g2);
            db = Reduce.sumToShape(full, b2.shape()).reshape(b.shape());
        }
        return new Tensor[] {da, db};
    }
}
