package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Autocast;
import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Checks;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.RowPitched;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.linalg.Linalg;
import ai.fulgur.ops.linalg.LinearEpilogue;
import ai.fulgur.ops.reduce.Reduce;

/**
 * y (..., out) = x (..., in) · Wᵀ + b, with W (out, in) and b (out) or null: DJL's {@code Linear} and PyTorch's
 * {@code F.linear}. Backward: dx = dy · W, dW = dyᵀ · x over all rows, db = Σ dy; no transposed copies are made.
 *
 * <p>Forward is one fused product-plus-bias ({@link Linalg#linear}, cuBLASLt's bias epilogue on CUDA) where the
 * backend says it fuses ({@link ai.fulgur.ops.linalg.LinalgKernels#fusesLinear}); elsewhere, the CPU included, a
 * matmul followed by an add, as before. Under {@link Autocast} x, W and b are cast to the scope's half type first.
 */
public final class Linear extends Function {

    public static Variable apply(Variable x, Variable weight, Variable bias) {
        x = Autocast.toHalf(x);
        weight = Autocast.toHalf(weight);
        bias = Autocast.toHalf(bias);
        String op = "linear";
        Checks.rank(op, "weight", weight.data(), 2);
        long in = weight.shape().dim(1);
        long outFeatures = weight.shape().dim(0);
        if (x.data().rank() == 0 || x.shape().last() != in) {
            throw new IllegalArgumentException(op + ": " + Checks.describe("input", x.data()) + " must end in " + in
                    + " features to match " + Checks.describe("weight", weight.data()));
        }
        if (bias != null && !bias.shape().equals(Shape.of(outFeatures))) {
            throw new IllegalArgumentException(op + ": " + Checks.describe("bias", bias.data()) + " must have shape ("
                    + outFeatures + ")");
        }
        Tensor out;
        DType dtype = x.data().dtype();
        boolean sameDtypes = weight.data().dtype() == dtype && (bias == null || bias.data().dtype() == dtype);
        if (sameDtypes && Backends.of(x.data()).linalg().fusesLinear(dtype)) {
            out = Linalg.linear(x.data(), weight.data(), bias == null ? null : bias.data(),
                    bias == null ? LinearEpilogue.NONE : LinearEpilogue.BIAS);
        } else {
            Tensor x2 = x.data().reshape(-1, in);
            Tensor y = Linalg.matmul(x2, weight.data().transpose(0, 1));
            if (bias != null) {
                y = Elementwise.add(y, bias.data());
            }
            out = y.reshape(x.shape().with(-1, outFeatures));
        }
        Linear fn = new Linear();
        Variable result = fn.record(out, x, weight, bias);
        if (!result.isLeaf()) {
            fn.saveForBackward(x, weight);
        }
        return result;
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor x = saved(0);
        Tensor w = saved(1);
        long in = w.shape().dim(1);
        long outFeatures = w.shape().dim(0);
        // (R, out) rows of g without a copy when it is row-pitched (a vocabulary head's logits gradient, see
        // RowPitched): both products below take its row stride as their leading dimension
        Tensor g2 = RowPitched.rows(g);
        Tensor dx = needsGrad(0) ? Linalg.matmul(g2, w).reshape(x.shape()) : null;
        Tensor dw = needsGrad(1) ? Linalg.matmul(g2.transpose(0, 1), x.reshape(-1, in)) : null;
        Tensor db = needsGrad(2) ? Reduce.sum(g2, new int[] {0}, false) : null;
        return new Tensor[] {dx, dw, db};
    }
}
