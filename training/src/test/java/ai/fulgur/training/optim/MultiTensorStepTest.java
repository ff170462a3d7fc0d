package ai.fulgur.training.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link ResumableAdamW#updateAll}, which the Fulgur engine's trainer calls once per step with every parameter, gives
 * the bits of DJL's path (one {@code update} per parameter, each gradient copied first): trained through
 * {@code Trainer.step()} for several steps with a changing learning rate and biases excluded from decay, on the CPU.
 */
class MultiTensorStepTest {
    private static final int STEPS = 4;

    /** The same AdamW behind DJL's per-parameter path only: not a MultiTensorOptimizer. */
    private static final class PerParameter extends Optimizer {
        private final ResumableAdamW inner;

        PerParameter(ResumableAdamW inner) {
            super(new Optimizer.OptimizerBuilder<>() {
                @Override
                protected Optimizer.OptimizerBuilder self() {
                    return this;
                }
            });
            this.inner = inner;
        }

        @Override
        public void update(String parameterId, NDArray weight, NDArray grad) {
            inner.update(parameterId, weight, grad);
        }
    }

    private static int updateAllCalls;

    private static List<float[]> train(boolean multiTensor) {
        Engine.getEngine("Fulgur").setRandomSeed(11);
        try (Model model = Model.newInstance("mlp", Device.cpu(), "Fulgur")) {
            SequentialBlock net = new SequentialBlock().add(Linear.builder().setUnits(16).build())
                    .add(Activation::relu).add(Linear.builder().setUnits(3).build());
            model.setBlock(net);
            ResumableAdamW.Builder builder = ResumableAdamW.builder().optLearningRateTracker(Tracker.cosine()
                    .setBaseValue(0.05f).optFinalValue(0.001f).setMaxUpdates(STEPS).build()).optWeightDecays(0.1f);
            ResumableAdamW adam = new ResumableAdamW(builder) {
                @Override
                public void updateAll(List<String> ids, List<NDArray> weights, List<NDArray> grads) {
                    updateAllCalls++;
                    super.updateAll(ids, weights, grads);
                }
            };
            Optimizer optimizer = multiTensor ? adam : new PerParameter(adam);
            DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.l2Loss()).optOptimizer(optimizer);
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(new Shape(8, 5));
                adam.excludeFromDecay(net, "bias");
                NDManager m = trainer.getManager();
                float[] x = new float[40];
                float[] y = new float[24];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) Math.sin(0.37 * i);
                }
                for (int i = 0; i < y.length; i++) {
                    y[i] = (float) Math.cos(0.91 * i);
                }
                NDArray data = m.create(x, new Shape(8, 5));
                NDArray labels = m.create(y, new Shape(8, 3));
                for (int s = 0; s < STEPS; s++) {
                    try (GradientCollector gc = trainer.newGradientCollector()) {
                        NDArray loss = trainer.getLoss().evaluate(new NDList(labels),
                                trainer.forward(new NDList(data)));
                        gc.backward(loss);
                    }
                    trainer.step();
                }
                assertEquals(STEPS, adam.step());
            }
            List<float[]> weights = new ArrayList<>();
            for (Parameter p : net.getParameters().values()) {
                weights.add(p.getArray().toFloatArray());
            }
            return weights;
        }
    }

    @Test
    void oneCallForAllParametersGivesTheBitsOfOneUpdatePerParameter() {
        updateAllCalls = 0;
        List<float[]> perParameter = train(false);
        assertEquals(0, updateAllCalls);
        List<float[]> all = train(true);
        assertEquals(STEPS - 1, updateAllCalls, "steps after the first update all parameters in one call");
        assertEquals(perParameter.size(), all.size());
        for (int k = 0; k < all.size(); k++) {
            assertArrayEquals(perParameter.get(k), all.get(k), "parameter " + k + " after " + STEPS + " steps");
        }
        Engine.getEngine("Fulgur").setRandomSeed(11);
        try (Model model = Model.newInstance("init", Device.cpu(), "Fulgur")) {
            SequentialBlock net = new SequentialBlock().add(Linear.builder().setUnits(16).build())
                    .add(Activation::relu).add(Linear.builder().setUnits(3).build());
            net.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(8, 5));
            assertNotEquals(net.getParameters().get(0).getValue().getArray().toFloatArray()[0], all.get(0)[0],
                    "the weights moved");
        }
    }

    @Test
    void mismatchedListsAreRefused() {
        ResumableAdamW adam = ResumableAdamW.builder().build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> adam.updateAll(List.of("a"), List.of(), List.of()));
        assertEquals(true, e.getMessage().contains("1 ids, 0 weights"), e.getMessage());
    }
}
