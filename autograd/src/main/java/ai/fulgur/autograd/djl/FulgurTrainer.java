package ai.fulgur.autograd.djl;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;
import ai.djl.training.Trainer;
import ai.djl.training.TrainingConfig;
import ai.djl.training.optimizer.Optimizer;
import java.util.ArrayList;
import java.util.List;

/**
 * DJL's {@link Trainer} whose {@link #step()} hands every parameter to the optimizer in one call when the optimizer
 * is a {@link MultiTensorOptimizer} and the model trains on one device: on a GPU one AdamW launch instead of one per
 * parameter (other optimizers go through {@link FulgurParameterServer}, one update per parameter). The first step goes through DJL's path, which checks the gradients once and puts every trainable
 * parameter into the parameter store, so both paths update the same set. {@code -Dfulgur.optim.multiTensor=false}
 * keeps DJL's path throughout.
 */
final class FulgurTrainer extends Trainer {
    /** Whether steps after the first use {@link MultiTensorOptimizer#updateAll} (default true). */
    static final boolean MULTI_TENSOR = Boolean.parseBoolean(System.getProperty("fulgur.optim.multiTensor", "true"));

    private final Optimizer optimizer;
    private boolean stepped;

    FulgurTrainer(Model model, TrainingConfig config) {
        super(model, config);
        this.optimizer = config.getOptimizer();
    }

    @Override
    public void step() {
        if (!stepped || !MULTI_TENSOR || !(optimizer instanceof MultiTensorOptimizer all)
                || getDevices().length != 1) {
            super.step();
            stepped = true;
            return;
        }
        Device device = getDevices()[0];
        List<String> ids = new ArrayList<>();
        List<NDArray> weights = new ArrayList<>();
        List<NDArray> grads = new ArrayList<>();
        try {
            for (Parameter p : getModel().getBlock().getParameters().values()) {
                if (!p.requiresGradient()) {
                    continue;
                }
                NDArray w = p.getArray();
                if (!w.getDevice().equals(device)) {
                    // the parameter store trains a copy on the device: leave that to DJL's path
                    super.step();
                    return;
                }
                ids.add(p.getId());
                weights.add(w);
                grads.add(w.getGradient());
            }
            long begin = System.nanoTime();
            all.updateAll(ids, weights, grads);
            addMetric("step", begin);
        } finally {
            grads.forEach(NDArray::close); // the wrappers only: the gradient tensors stay with their weights
        }
    }
}
