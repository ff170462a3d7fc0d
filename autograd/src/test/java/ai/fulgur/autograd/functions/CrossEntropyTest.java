package ai.fulgur.autograd.functions;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.fulgur.autograd.Variable;
import ai.fulgur.autograd.functions.CrossEntropy.Reduction;
import ai.fulgur.ops.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link CrossEntropy} with each reduction and an ignored row, on (R, V) and (B, T, V) logits. PyTorch's reference is
 * written out as −log_softmax(logits) gathered at the targets, masked and reduced like {@code F.cross_entropy}, and
 * differentiated by PyTorch's autograd (DJL exposes no fused cross-entropy on NDArrays).
 */
class CrossEntropyTest {
    private static final long IGNORE = -100;

    @ParameterizedTest
    @EnumSource(Reduction.class)
    void rowsOfLogits(Reduction reduction) {
        SplittableRandom rnd = new SplittableRandom(reduction.ordinal());
        Tensor logits = scaled(OpCheck.normal(rnd, 5, 6), 2);
        Tensor targets = Tensor.of(new long[] {2, IGNORE, 0, 5, 2}, 5);
        OpCheck.both("crossEntropy (5,6) " + reduction, xs -> CrossEntropy.apply(xs.get(0), targets, IGNORE, reduction),
                (m, xs) -> torch(m, xs.get(0), targets, reduction), logits);
    }

    @ParameterizedTest
    @EnumSource(Reduction.class)
    void batchOfSequences(Reduction reduction) {
        SplittableRandom rnd = new SplittableRandom(10 + reduction.ordinal());
        Tensor logits = scaled(OpCheck.normal(rnd, 2, 3, 7), 2);
        Tensor targets = Tensor.of(new long[] {6, 0, 3, 3, -1, 1}, 2, 3); // ignore index -1 here
        OpCheck.both("crossEntropy (2,3,7) " + reduction, xs -> CrossEntropy.apply(xs.get(0), targets, -1, reduction),
                (m, xs) -> torch(m, xs.get(0), targets, -1, reduction), logits);
    }

    @Test
    void ignoredRowGetsZeroGradient() {
        Variable logits = Variable.parameter(OpCheck.normal(new SplittableRandom(4), 3, 4));
        CrossEntropy.apply(logits, Tensor.of(new long[] {1, IGNORE, 3}, 3), IGNORE, Reduction.MEAN).backward();
        double[] g = logits.grad().toDoubleArray();
        assertArrayEquals(new double[4], java.util.Arrays.copyOfRange(g, 4, 8), 0, "row 1 is ignored");
        // each counted row's gradient (softmax − onehot)/2 sums to zero
        assertEquals(0, g[0] + g[1] + g[2] + g[3], 1e-15);
    }

    private static NDArray torch(NDManager m, NDArray logits, Tensor targets, Reduction reduction) {
        return torch(m, logits, targets, IGNORE, reduction);
    }

    /** −log_softmax(logits)[target] per row, 0 where the target is ignored, then NONE / SUM / MEAN (counted rows). */
    private static NDArray torch(NDManager m, NDArray logits, Tensor targets, long ignore, Reduction reduction) {
        long[] t = targets.toLongArray();
        long[] safe = new long[t.length];
        float[] keep = new float[t.length];
        int counted = 0;
        for (int i = 0; i < t.length; i++) {
            boolean ignored = t[i] == ignore;
            safe[i] = ignored ? 0 : t[i];
            keep[i] = ignored ? 0 : 1;
            counted += ignored ? 0 : 1;
        }
        ai.djl.ndarray.types.Shape rows = new ai.djl.ndarray.types.Shape(targets.shape().dims());
        NDArray index = m.create(safe, rows).expandDims(-1);
        int classAxis = targets.rank();
        NDArray picked = logits.logSoftmax(classAxis).gather(index, classAxis).squeeze(classAxis);
        NDArray losses = picked.neg().mul(m.create(keep, rows));
        return switch (reduction) {
            case NONE -> losses;
            case SUM -> losses.sum();
            case MEAN -> losses.sum().div(counted);
        };
    }

    private static Tensor scaled(Tensor t, double s) {
        return ai.fulgur.ops.elementwise.Elementwise.mulScalar(t, s);
    }
}
