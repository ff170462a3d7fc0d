package ai.fulgur.training.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.loss.Loss;
import ai.fulgur.autograd.Variable;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.autograd.functions.CrossEntropy;

/**
 * The language-model loss: mean cross-entropy of logits (..., V) against integer targets (...), over the targets that
 * are not {@link #IGNORE} (-100, Hugging Face's and PyTorch's ignore index): prompt positions of a task, unmasked
 * positions of masked-LM, padding.
 *
 * <pre>
 *   loss = Σ_{i: t_i ≠ -100} −log softmax(z_i)[t_i]  /  #{i: t_i ≠ -100}
 * </pre>
 *
 * <p>On Fulgur it is one fused kernel that never materialises the softmax; on other engines (the tests' PyTorch
 * reference) it is composed from logSoftmax and pick. A batch whose targets are all ignored has loss 0 / 0 = NaN, as
 * in PyTorch.
 */
public class TokenCrossEntropyLoss extends Loss {
    /** The target value that takes no part in the loss. */
    public static final int IGNORE = -100;

    /** A loss named {@code name} in DJL's training listeners. */
    public TokenCrossEntropyLoss(String name) {
        super(name);
    }

    /** A loss named "TokenCrossEntropy". */
    public TokenCrossEntropyLoss() {
        this("TokenCrossEntropy");
    }

    /** {@inheritDoc} label: targets (...); prediction: logits (..., V). */
    @Override
    public NDArray evaluate(NDList label, NDList prediction) {
        NDArray logits = prediction.singletonOrThrow();
        NDArray targets = label.singletonOrThrow();
        long[] ls = logits.getShape().getShape();
        if (ls.length != targets.getShape().dimension() + 1
                || !logits.getShape().slice(0, ls.length - 1).equals(targets.getShape())) {
            throw new IllegalArgumentException("token cross-entropy takes logits (..., V) and targets (...) of the "
                    + "same leading shape, got logits " + logits.getShape() + " and targets " + targets.getShape());
        }
        if (targets.getDataType().isFloating()) {
            throw new IllegalArgumentException("targets must be integer token ids, got " + targets.getDataType());
        }
        if (logits instanceof FulgurNDArray) {
            Variable z = FulgurNDArray.variableOf(logits, "TokenCrossEntropyLoss");
            var t = FulgurNDArray.variableOf(targets, "TokenCrossEntropyLoss").data();
            Variable loss = FulgurNDArray.recorded(() -> CrossEntropy.apply(z, t, IGNORE,
                    CrossEntropy.Reduction.MEAN));
            return FulgurNDArray.wrap(logits.getManager(), loss);
        }
        NDArray flatTargets = targets.reshape(-1);
        NDArray keep = flatTargets.neq(IGNORE);
        NDArray safe = flatTargets.mul(keep.toType(flatTargets.getDataType(), false)).toType(DataType.INT64, false);
        NDArray logp = logits.reshape(-1, ls[ls.length - 1]).logSoftmax(-1)
                .get(new NDIndex().addAllDim().addPickDim(safe)).reshape(-1);
        NDArray weight = keep.toType(logp.getDataType(), false);
        return logp.mul(weight).sum().neg().div(weight.sum());
    }
}
