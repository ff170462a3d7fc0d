package ai.fulgur.training.bert;

import ai.fulgur.training.loss.TokenCrossEntropyLoss;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.Loss;
import ai.djl.training.loss.SoftmaxCrossEntropyLoss;
import ai.djl.util.Pair;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.training.checkpoint.Safetensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Gradients of the BERT blocks: on Fulgur (FlashAttention backward with per-sequence key lengths, the tied decoder
 * accumulating into the word embedding) against DJL's PyTorch engine (composed attention, torch autograd), every
 * parameter, from the transformers fixtures' weights and padded inputs; and in float64 against a central difference
 * along a random direction of all parameters.
 */
class BertGradientTest {
    private static final double ATOL = 2e-6;
    private static final double RTOL = 2e-3;

    private static final Path MLM = BertTestSupport.fixture("bert-mlm-tiny");
    private static final Path CLS = BertTestSupport.fixture("bert-cls-tiny");

    @Test
    void maskedLmGradientsMatchPyTorch() throws IOException {
        compareWithPyTorch("BertForMaskedLM", MLM, true);
    }

    @Test
    void classifierGradientsMatchPyTorch() throws IOException {
        compareWithPyTorch("BertForSequenceClassification", CLS, false);
    }

    private static void compareWithPyTorch(String what, Path fixture, boolean mlm) throws IOException {
        try (NDManager pt = BertTestSupport.torchManager(); NDManager fu = BertTestSupport.fulgurManager()) {
            Run theirs = run(fixture, mlm, pt, DataType.FLOAT32);
            Run ours = run(fixture, mlm, fu, DataType.FLOAT32);
            assertInstanceOf(FulgurNDArray.class, ours.loss());
            double lossDiff = Math.abs(ours.loss().getFloat() - theirs.loss().getFloat());
            assertTrue(lossDiff <= 1e-5, what + " loss " + ours.loss().getFloat() + " vs PyTorch "
                    + theirs.loss().getFloat());
            double max = 0;
            String worst = "";
            for (Pair<String, Parameter> p : theirs.model().getParameters()) {
                double[] e = BertTestSupport.values(p.getValue().getArray().getGradient());
                double[] a = BertTestSupport.values(ours.model().getParameters().get(p.getKey()).getArray()
                        .getGradient());
                assertEquals(e.length, a.length, p.getKey());
                for (int i = 0; i < e.length; i++) {
                    double diff = Math.abs(e[i] - a[i]);
                    assertTrue(diff <= ATOL + RTOL * Math.abs(e[i]), what + " gradient of " + p.getKey() + " at "
                            + i + ": PyTorch " + e[i] + ", Fulgur " + a[i] + " (|diff| " + diff + " > " + ATOL
                            + " + " + RTOL + "·|expected|)");
                    if (diff > max) {
                        max = diff;
                        worst = p.getKey();
                    }
                }
            }
            System.out.printf("%s: loss |diff| %.2e, max parameter-gradient |diff| %.2e (%s)%n", what, lossDiff, max,
                    worst);
        }
    }

    /**
     * The central difference of the loss along a random direction d of all parameters equals Σ grad · d, in float64
     * on Fulgur (where attention takes the composed path: the kernels are float32/16).
     */
    @Test
    void maskedLmFloat64GradientMatchesCentralDifference() throws IOException {
        try (NDManager m = BertTestSupport.fulgurManager()) {
            Run run = run(MLM, true, m, DataType.FLOAT64);
            Random rnd = new Random(5);
            double analytic = 0;
            Map<Parameter, double[]> base = new java.util.LinkedHashMap<>();
            Map<Parameter, double[]> direction = new java.util.LinkedHashMap<>();
            for (Pair<String, Parameter> p : run.model().getParameters()) {
                NDArray a = p.getValue().getArray();
                double[] g = BertTestSupport.values(a.getGradient());
                double[] d = new double[g.length];
                for (int i = 0; i < d.length; i++) {
                    d[i] = rnd.nextGaussian();
                    analytic += g[i] * d[i];
                }
                base.put(p.getValue(), BertTestSupport.values(a));
                direction.put(p.getValue(), d);
            }
            // the truncation error falls as eps² (1e-2 at eps 1e-3, 1e-6 at 1e-5, 1e-8 at 1e-6): the direction moves the
            // 0.02-scale weights by O(1) per unit step
            double eps = 1e-6;
            double plus = lossAt(run, base, direction, eps, m);
            double minus = lossAt(run, base, direction, -eps, m);
            double numeric = (plus - minus) / (2 * eps);
            System.out.printf("float64 directional derivative: analytic %.10f, central difference %.10f%n", analytic,
                    numeric);
            assertEquals(numeric, analytic, 1e-7 * Math.max(1, Math.abs(numeric)));
        }
    }

    private record Run(Block model, NDList inputs, NDArray labels, Loss lossFunction, NDArray loss) {}

    /** Loads the fixture onto {@code m} in {@code type}, then forward (training), loss and backward. */
    private static Run run(Path fixture, boolean mlm, NDManager m, DataType type) throws IOException {
        BertConfig config = BertConfig.read(fixture);
        Block model = mlm ? new BertForMaskedLM(config) : new BertForSequenceClassification(config);
        BertCheckpoint.initialize(model, m, type);
        BertCheckpoint.load(fixture, model);
        Map<String, NDArray> t = Safetensors.read(fixture.resolve("expected.safetensors"), m).tensors();
        NDList inputs = new NDList(t.get("input_ids"), t.get("token_type_ids"), t.get("attention_mask"));
        NDArray labels;
        Loss loss;
        if (mlm) {
            // every third real token is a prediction target (its own id), padding never
            long[] ids = t.get("input_ids").toLongArray();
            long[] mask = t.get("attention_mask").toLongArray();
            long[] y = new long[ids.length];
            for (int i = 0; i < ids.length; i++) {
                y[i] = mask[i] == 1 && i % 3 == 1 ? ids[i] : TokenCrossEntropyLoss.IGNORE;
            }
            labels = m.create(y, new Shape(2, 17));
            loss = new TokenCrossEntropyLoss();
        } else {
            labels = m.create(new long[] {2, 0});
            loss = new SoftmaxCrossEntropyLoss();
        }
        try (GradientCollector gc = m.getEngine().newGradientCollector()) {
            NDArray out = model.forward(new ParameterStore(m, false), inputs, true).head();
            NDArray value = loss.evaluate(new NDList(labels), new NDList(out));
            gc.backward(value);
            return new Run(model, inputs, labels, loss, value);
        }
    }

    /** The loss with every parameter at base + step · direction (no gradient recorded). */
    private static double lossAt(Run run, Map<Parameter, double[]> base, Map<Parameter, double[]> direction,
            double step, NDManager m) {
        for (Map.Entry<Parameter, double[]> e : base.entrySet()) {
            double[] b = e.getValue();
            double[] d = direction.get(e.getKey());
            double[] v = new double[b.length];
            for (int i = 0; i < v.length; i++) {
                v[i] = b[i] + step * d[i];
            }
            NDArray target = e.getKey().getArray();
            m.create(v, target.getShape()).copyTo(target);
        }
        NDArray out = run.model().forward(new ParameterStore(m, false), run.inputs(), false).head();
        return run.lossFunction().evaluate(new NDList(run.labels()), new NDList(out)).getDouble();
    }
}
