package ai.fulgur.training.gpt2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.SoftmaxCrossEntropyLoss;
import ai.djl.util.Pair;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Training gradients of GPT-2 on Fulgur equal PyTorch's for the same weights (the HF fixture) and the same next-token
 * loss: every parameter, the tied token embedding included, which receives the gradient of the embedding lookup and
 * of the LM head in one tensor.
 */
class Gpt2GradientParityTest {

    @Test
    void everyParameterGradientMatchesPyTorch() throws IOException {
        Map<String, float[]> fulgur = gradients("Fulgur");
        Map<String, float[]> torch = gradients("PyTorch");
        assertEquals(torch.keySet(), fulgur.keySet());
        double worst = 0;
        String worstName = "";
        for (String name : torch.keySet()) {
            float[] e = torch.get(name);
            float[] a = fulgur.get(name);
            double scale = 0;
            for (float v : e) {
                scale = Math.max(scale, Math.abs(v));
            }
            double diff = Gpt2TestSupport.maxAbsDiff(name, e, a);
            assertTrue(scale > 0, name + ": PyTorch gradient is all zeros");
            assertTrue(diff <= 1e-6 + 1e-4 * scale, name + ": gradient differs by " + diff + " (largest |grad| "
                    + scale + ")");
            if (diff / scale > worst) {
                worst = diff / scale;
                worstName = name;
            }
        }
        System.out.printf("GPT-2 gradients, Fulgur vs PyTorch: worst relative difference %.2e (%s)%n", worst,
                worstName);
    }

    /** Gradients of the mean next-token cross-entropy over the fixture's input ids, by parameter name. */
    private static Map<String, float[]> gradients(String engine) throws IOException {
        try (Gpt2Model gpt2 = Gpt2Model.load(Gpt2TestSupport.fixtureDir(), Device.cpu(), engine);
                NDManager m = gpt2.getManager().newSubManager()) {
            for (Pair<String, Parameter> p : gpt2.getBlock().getParameters()) {
                p.getValue().getArray().setRequiresGradient(true);
            }
            NDArray ids = Gpt2TestSupport.expected(m).get("input_ids");         // (2, 19)
            NDArray inputs = ids.get(new NDIndex(":, 0:18"));
            NDArray targets = ids.get(new NDIndex(":, 1:19")).reshape(-1);
            int v = gpt2.getConfig().vocabSize();
            try (GradientCollector collector = Engine.getEngine(engine).newGradientCollector()) {
                NDArray logits = gpt2.getBlock().forward(new ParameterStore(m, false), new NDList(inputs), true)
                        .head().reshape(-1, v);
                NDArray loss = new SoftmaxCrossEntropyLoss().evaluate(new NDList(targets), new NDList(logits));
                collector.backward(loss);
            }
            Map<String, float[]> grads = new LinkedHashMap<>();
            for (Pair<String, Parameter> p : gpt2.getBlock().getParameters()) {
                grads.put(p.getKey(), p.getValue().getArray().getGradient().toFloatArray());
            }
            return grads;
        }
    }
}
