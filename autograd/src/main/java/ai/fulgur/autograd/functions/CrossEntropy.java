package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.elementwise.UnaryOp;
import ai.fulgur.ops.loss.Loss;
import ai.fulgur.ops.reduce.Reduce;

/**
 * Fused log-softmax + negative log-likelihood of logits (..., V) against integer targets (...), with an ignore index.
 * Saves the logits and the row logsumexp (never the softmax); backward computes softmax − onehot row by row.
 * Reduction as PyTorch's {@code F.cross_entropy}: NONE keeps per-row losses, SUM adds them, MEAN divides the sum by
 * the number of rows not ignored.
 */
public final class CrossEntropy extends Function {

    /** How per-row losses combine. */
    public enum Reduction {
        NONE, SUM, MEAN
    }

    private final Tensor targets;
    private final long ignoreIndex;
    private final Reduction reduction;
    private final Tensor divisor; // MEAN: the number of rows not ignored (scalar tensor); else null

    private CrossEntropy(Tensor targets, long ignoreIndex, Reduction reduction, Tensor divisor) {
        this.targets = targets;
        this.ignoreIndex = ignoreIndex;
        this.reduction = reduction;
        this.divisor = divisor;
    }

    public static Variable apply(Variable logits, Tensor targets, long ignoreIndex, Reduction reduction) {
        Loss.CrossEntropyResult r = Loss.crossEntropyForward(logits.data(), targets, ignoreIndex);
        // MEAN divides by the rows not ignored, counted on the tensors' device: reading the count back would stall
        // a GPU stream every step. No row counted gives 0/0 = NaN, as PyTorch.
        Tensor divisor = reduction != Reduction.MEAN ? null
                : Reduce.sum(Elementwise.unary(UnaryOp.NE_SCALAR, targets, ignoreIndex)).cast(r.losses().dtype());
        Tensor out = switch (reduction) {
            case NONE -> r.losses();
            case SUM -> Reduce.sum(r.losses());
            case MEAN -> Elementwise.div(Reduce.sum(r.losses()), divisor);
        };
        CrossEntropy fn = new CrossEntropy(targets, ignoreIndex, reduction, divisor);
        Variable result = fn.record(out, logits);
        if (!result.isLeaf()) {
            fn.saveForBackward(logits);
            fn.saveInternals(r.lse());
        }
        return result;
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor logits = saved(0);
        Tensor perRow = reduction == Reduction.NONE ? g
                : (divisor == null ? g : Elementwise.div(g, divisor)).expand(targets.shape()).contiguous();
        if (perRow.dtype() != logits.dtype() && !logits.dtype().isHalf()) {
            perRow = perRow.cast(logits.dtype());
        }
        return new Tensor[] {Loss.crossEntropyBackward(perRow, logits, internal(0), targets, ignoreIndex)};
    }
}
