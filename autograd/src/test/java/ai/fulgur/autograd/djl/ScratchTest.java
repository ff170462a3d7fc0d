package ai.fulgur.autograd.djl;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.*;
import ai.djl.ndarray.types.*;
import ai.djl.nn.*;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.*;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.*;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.Batchifier;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ScratchTest {
    static String head(NDArray a) { return Arrays.toString(Arrays.copyOf(a.toFloatArray(), 3)); }
    @Test
    void probe() {
        String[] engines = {"PyTorch", "Fulgur"};
        Model[] models = new Model[2];
        Trainer[] trainers = new Trainer[2];
        for (int k = 0; k < 2; k++) {
            models[k] = Model.newInstance("f", Device.cpu(), engines[k]);
            models[k].setBlock(new SequentialBlock().add(Linear.builder().setUnits(16).build()).add(Activation.geluBlock()).add(LayerNorm.builder().build()).add(Linear.builder().setUnits(4).build()));
            trainers[k] = models[k].newTrainer(new DefaultTrainingConfig(new SoftmaxCrossEntropyLoss())
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(0.05f)).build())
                    .optDevices(new Device[] {Device.cpu()}));
            trainers[k].initialize(new Shape(8, 10));
        }
        DjlTestSupport.copyParameters(models[0].getBlock(), models[1].getBlock());
        for (int phase = 0; phase < 2; phase++) {
            for (int k = 0; k < 2; k++) {
                ((SequentialBlock) models[k].getBlock()).getChildren().get(0).getValue().freezeParameters(phase == 0);
            }
            for (int s = 0; s < 2; s++) {
                for (int k = 0; k < 2; k++) {
                    NDManager m = trainers[k].getManager().newSubManager();
                    try (Batch b = new Batch(m, new NDList(DjlTestSupport.normal(m, s, 8, 10)), new NDList(m.create(new float[] {0, 1, 2, 1, 3, 0, 1, 2})), 8, Batchifier.STACK, Batchifier.STACK, s, 3)) {
                        EasyTrain.trainBatch(trainers[k], b);
                        for (var p : models[k].getBlock().getParameters()) {
                            NDArray arr = p.getValue().getArray();
                            System.out.println("PROBE phase " + phase + " step " + s + " " + engines[k] + " " + p.getKey() + " req=" + arr.hasGradient() + (arr.hasGradient() ? " grad " + head(arr.getGradient()) : "") + " val " + head(arr));
                        }
                        trainers[k].step();
                    }
                }
            }
        }
    }
}
