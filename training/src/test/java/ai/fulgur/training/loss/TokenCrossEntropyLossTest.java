package ai.fulgur.training.loss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TokenCrossEntropyLossTest {

    /** The loss and its gradient equal the float64 formula, on Fulgur's fused kernel and on PyTorch's composed one. */
    @ParameterizedTest
    @ValueSource(strings = {"Fulgur", "PyTorch"})
    void equalsTheFormulaOverTheTargetsThatAreNotIgnored(String engine) {
        int b = 3;
        int t = 5;
        int v = 7;
        Random random = new Random(11);
        float[] z = new float[b * t * v];
        for (int i = 0; i < z.length; i++) {
            z[i] = (float) (2 * random.nextGaussian());
        }
        int[] targets = new int[b * t];
        for (int i = 0; i < targets.length; i++) {
            targets[i] = i % 3 == 0 ? TokenCrossEntropyLoss.IGNORE : random.nextInt(v);
        }
        double sum = 0;
        int counted = 0;
        double[] expectedGrad = new double[z.length];
        for (int r = 0; r < b * t; r++) {
            if (targets[r] == TokenCrossEntropyLoss.IGNORE) {
                continue;
            }
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < v; c++) {
                max = Math.max(max, z[r * v + c]);
            }
            double norm = 0;
            for (int c = 0; c < v; c++) {
                norm += Math.exp(z[r * v + c] - max);
            }
            sum += Math.log(norm) + max - z[r * v + targets[r]];
            counted++;
        }
        for (int r = 0; r < b * t; r++) {
            if (targets[r] == TokenCrossEntropyLoss.IGNORE) {
                continue;
            }
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < v; c++) {
                max = Math.max(max, z[r * v + c]);
            }
            double norm = 0;
            for (int c = 0; c < v; c++) {
                norm += Math.exp(z[r * v + c] - max);
            }
            for (int c = 0; c < v; c++) {
                expectedGrad[r * v + c] = (Math.exp(z[r * v + c] - max) / norm - (c == targets[r] ? 1 : 0)) / counted;
            }
        }
        try (NDManager m = NDManager.newBaseManager(engine)) {
            NDArray logits = m.create(z, new Shape(b, t, v));
            logits.setRequiresGradient(true);
            NDArray labels = m.create(targets, new Shape(b, t));
            float loss;
            try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                NDArray l = new TokenCrossEntropyLoss().evaluate(new NDList(labels), new NDList(logits));
                loss = l.getFloat();
                gc.backward(l);
            }
            assertEquals(sum / counted, loss, 1e-5);
            float[] grad = logits.getGradient().toFloatArray();
            for (int i = 0; i < grad.length; i++) {
                assertEquals(expectedGrad[i], grad[i], 1e-6, "gradient at " + i);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"Fulgur"})
    void mismatchedShapesAreNamed(String engine) {
        try (NDManager m = NDManager.newBaseManager(engine)) {
            var e = assertThrows(IllegalArgumentException.class, () -> new TokenCrossEntropyLoss().evaluate(
                    new NDList(m.zeros(new Shape(2, 4), ai.djl.ndarray.types.DataType.INT32)),
                    new NDList(m.zeros(new Shape(2, 5, 3)))));
            assertEquals(true, e.getMessage().contains("(2, 5, 3)") && e.getMessage().contains("(2, 4)"),
                    e.getMessage());
        }
    }
}
