package ai.fulgur.training.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.loss.Loss;
import ai.djl.training.loss.SoftmaxCrossEntropyLoss;

/**
 * The masked-language-model loss: softmax cross-entropy averaged over the positions that carry a label, the others
 * marked {@link #IGNORE_INDEX} (−100, Hugging Face's convention):
 *
 * <pre>
 *   loss = −(1 / |M|) · Σ_{(b,t) ∈ M} log softmax(logits[b, t])[labels[b, t]],   M = {(b, t) : labels[b, t] ≠ −100}
 * </pre>
 *
 * <p>Shapes: predictions NDList(logits (B, T, V)), labels NDList(labels (B, T)) INT32 or INT64. The labelled rows are
 * found on the host and gathered ((M, V)) before DJL's {@link SoftmaxCrossEntropyLoss}, so the V-wide work is done
 * for the masked positions only (about 15% of them in BERT's recipe). A batch without any label fails.
 */
public class MaskedLmLoss extends Loss {
    /** The label of a position that does not count. */
    public static final long IGNORE_INDEX = -100;

    private final SoftmaxCrossEntropyLoss crossEntropy = new SoftmaxCrossEntropyLoss("mlm_cross_entropy");

    /** A loss named "MaskedLmLoss". */
    public MaskedLmLoss() {
        super("MaskedLmLoss");
    }

    /** {@inheritDoc} */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        NDArray logits = predictions.head();
        NDArray target = labels.head();
        if (logits.getShape().dimension() != 3 || !target.getShape().equals(logits.getShape().slice(0, 2))) {
            throw new IllegalArgumentException("MaskedLmLoss takes logits (B, T, V) and labels (B, T), got "
                    + logits.getShape() + " and " + target.getShape());
        }
        long v = logits.getShape().get(2);
        long[] flat = target.toType(ai.djl.ndarray.types.DataType.INT64, false).toLongArray();
        int count = 0;
        for (long label : flat) {
            if (label != IGNORE_INDEX) {
                if (label < 0 || label >= v) {
                    throw new IllegalArgumentException("MaskedLmLoss label " + label + " is outside [0, " + v
                            + ") and not the ignore index " + IGNORE_INDEX);
                }
                count++;
            }
        }
        if (count == 0) {
            throw new IllegalArgumentException("MaskedLmLoss: no position has a label (all are " + IGNORE_INDEX
                    + "); mask at least one token per batch");
        }
        long[] rows = new long[count];
        long[] picked = new long[count];
        for (int i = 0, j = 0; i < flat.length; i++) {
            if (flat[i] != IGNORE_INDEX) {
                rows[j] = i;
                picked[j++] = flat[i];
            }
        }
        NDArray selected = logits.reshape(-1, v).get(logits.getManager().create(rows));  // (M, V)
        NDArray selectedLabels = logits.getManager().create(picked);                      // (M)
        return crossEntropy.evaluate(new NDList(selectedLabels), new NDList(selected));
    }
}
