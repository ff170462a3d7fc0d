package ai.fulgur.autograd.djl;

import ai.djl.ndarray.NDArray;
import java.util.List;

/**
 * An optimizer that can update all of a step's parameters in one call (on a GPU: one kernel launch instead of one per
 * parameter). The trainers of the Fulgur engine ({@link FulgurModel#newTrainer}) call it from {@code Trainer.step()}
 * on one device, after a first step through DJL's per-parameter path (which checks the gradients once).
 */
public interface MultiTensorOptimizer {

    /**
     * Updates parameter {@code parameterIds[i]}, whose weight is {@code weights[i]}, with gradient {@code grads[i]},
     * for every i, exactly as one {@code Optimizer.update} call per parameter would (update counts included), then
     * zeroes the weights' gradients.
     */
    void updateAll(List<String> parameterIds, List<NDArray> weights, List<NDArray> grads);
}
