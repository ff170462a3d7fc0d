package ai.fulgur.training.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;

/** For tests that read each step's loss from DJL's trainer: {@link TokenCrossEntropyLoss} keeping its last value. */
public final class RecordingTokenLoss extends TokenCrossEntropyLoss {
    private float last = Float.NaN;

    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        NDArray loss = super.evaluate(labels, predictions);
        last = loss.getFloat();
        return loss;
    }

    /** The value of the last evaluation, NaN before the first. */
    public float last() {
        return last;
    }
}
