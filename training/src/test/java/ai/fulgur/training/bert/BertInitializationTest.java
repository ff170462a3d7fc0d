package ai.fulgur.training.bert;

import ai.fulgur.training.loss.TokenCrossEntropyLoss;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.Trainer;
import ai.djl.util.Pair;
import org.junit.jupiter.api.Test;

/** A fresh model starts as transformers initialises BERT: weights N(0, 0.02²), biases 0, LayerNorm 1 and 0. */
class BertInitializationTest {

    @Test
    void freshMaskedLmThroughDjlTrainerStartsLikeTransformers() {
        try (Model model = Model.newInstance("bert", Device.cpu(), "Fulgur")) {
            model.setBlock(new BertForMaskedLM(BertConfig.tiny()));
            try (Trainer trainer = model.newTrainer(new DefaultTrainingConfig(new TokenCrossEntropyLoss())
                    .optDevices(new Device[] {Device.cpu()}))) {
                trainer.initialize(new Shape(2, 8));
                check(model.getBlock());
            }
        }
    }

    private static void check(Block block) {
        for (Pair<String, Parameter> p : block.getParameters()) {
            double[] v = BertTestSupport.values(p.getValue().getArray());
            double mean = 0;
            double sq = 0;
            for (double x : v) {
                mean += x;
                sq += x * x;
            }
            mean /= v.length;
            double std = Math.sqrt(sq / v.length - mean * mean);
            String name = p.getKey();
            System.out.printf("%-70s mean %+.4f std %.4f%n", name, mean, std);
            if (name.endsWith("gamma")) {
                assertTrue(mean == 1 && std == 0, name + " starts at 1");
            } else if (name.endsWith("beta") || name.endsWith("bias")) {
                assertTrue(mean == 0 && std == 0, name + " starts at 0");
            } else {
                // the sample std of n normals has standard error σ/√(2n); allow 5 of them
                double tolerance = 5 * 0.02 / Math.sqrt(2.0 * v.length);
                assertTrue(Math.abs(std - 0.02) < tolerance, name + " std " + std + ", expected 0.02 ± " + tolerance);
            }
        }
    }
}
