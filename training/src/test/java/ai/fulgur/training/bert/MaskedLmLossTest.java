package ai.fulgur.training.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link MaskedLmLoss} against the formula in double, value and gradient, on Fulgur. */
class MaskedLmLossTest {
    private static final int B = 2;
    private static final int T = 5;
    private static final int V = 7;

    @Test
    void valueAndGradientMatchTheFormulaInDouble() {
        Random rnd = new Random(3);
        float[] z = new float[B * T * V];
        for (int i = 0; i < z.length; i++) {
            z[i] = (float) (2 * rnd.nextGaussian());
        }
        long[] labels = {3, -100, -100, 0, 6, -100, 2, -100, -100, -100};
        // reference: mean over labelled rows of logsumexp(z) − z[label]; its gradient (softmax − onehot) / count
        double expected = 0;
        double[] grad = new double[z.length];
        int count = 0;
        for (int r = 0; r < B * T; r++) {
            if (labels[r] == -100) {
                continue;
            }
            count++;
            double max = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < V; k++) {
                max = Math.max(max, z[r * V + k]);
            }
            double sum = 0;
            for (int k = 0; k < V; k++) {
                sum += Math.exp(z[r * V + k] - max);
            }
            expected += max + Math.log(sum) - z[r * V + (int) labels[r]];
            for (int k = 0; k < V; k++) {
                grad[r * V + k] = Math.exp(z[r * V + k] - max) / sum - (k == labels[r] ? 1 : 0);
            }
        }
        expected /= count;
        for (int i = 0; i < grad.length; i++) {
            grad[i] /= count;
        }
        try (NDManager m = BertTestSupport.fulgurManager()) {
            NDArray logits = m.create(z, new Shape(B, T, V));
            logits.setRequiresGradient(true);
            try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                NDArray loss = new MaskedLmLoss().evaluate(new NDList(m.create(labels, new Shape(B, T))),
                        new NDList(logits));
                assertEquals(expected, loss.getFloat(), 1e-5);
                gc.backward(loss);
            }
            double[] got = BertTestSupport.values(logits.getGradient());
            for (int i = 0; i < grad.length; i++) {
                assertEquals(grad[i], got[i], 1e-6, "gradient at " + i);
            }
        }
    }

    @Test
    void labelsOutsideTheVocabularyOrNoneAtAllAreNamed() {
        try (NDManager m = BertTestSupport.fulgurManager()) {
            NDList logits = new NDList(m.zeros(new Shape(1, 2, V)));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new MaskedLmLoss()
                    .evaluate(new NDList(m.create(new long[] {-100, 7}, new Shape(1, 2))), logits));
            assertTrue(e.getMessage().contains("label 7 is outside [0, 7)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> new MaskedLmLoss()
                    .evaluate(new NDList(m.create(new long[] {-100, -100}, new Shape(1, 2))), logits));
            assertTrue(e.getMessage().contains("no position has a label"), e.getMessage());
        }
    }
}
