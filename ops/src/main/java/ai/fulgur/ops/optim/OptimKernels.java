package ai.fulgur.ops.optim;

import ai.fulgur.ops.Tensor;
import java.util.List;

/** Kernel SPI: optimizer updates, in place on the parameter and its state. Tensors are contiguous, same shape. */
public interface OptimKernels {

    /** One Adam/AdamW step on w with gradient g and moments m, v (see {@link AdamParams}). */
    void adamUpdate(Tensor w, Tensor g, Tensor m, Tensor v, AdamParams p);

    /**
     * {@link #adamUpdate} whose per-step scalars come from device memory, so that a captured graph replays with the
     * values of each step instead of those baked in when it was captured: {@code step} (F32, 3 elements) holds
     * {lr, stepSize = lr / bc1, √bc2}; {@code p} gives the rest (its lr, bc1 and bc2 are ignored). This default is
     * the reference: it reads the three values to the host and calls {@link #adamUpdate}; a GPU backend reads them
     * in the kernel.
     */
    default void adamUpdateWithStepScalars(Tensor w, Tensor g, Tensor m, Tensor v, AdamParams p, Tensor step) {
        adamUpdate(w, g, m, v, p.withStepScalars(step.toFloatArray()));
    }

    /**
     * One Adam/AdamW step on every group, each exactly as {@link #adamUpdate} would update it with {@code p} (weight
     * decay 0 where {@link AdamGroup#decay} is false). This default is the reference, one call per group; a GPU
     * backend updates them all in one launch. Groups are on one device and share no tensor.
     */
    default void adamUpdateMany(List<AdamGroup> groups, AdamParams p) {
        for (AdamGroup t : groups) {
            adamUpdate(t.w(), t.g(), t.m(), t.v(), t.decay() ? p : p.withWeightDecay(0));
        }
    }

    /**
     * {@link #adamUpdateMany} with lr, stepSize and √bc2 read from {@code step} (F32, 3 elements) as
     * {@link #adamUpdateWithStepScalars} reads them, so that a captured graph replays with each step's values.
     */
    default void adamUpdateManyWithStepScalars(List<AdamGroup> groups, AdamParams p, Tensor step) {
        if (!groups.isEmpty()) {
            adamUpdateMany(groups, p.withStepScalars(step.toFloatArray()));
        }
    }

    /**
     * One SGD step: g = clip(rescaleGrad · grad) + weightDecay · w; if momentum ≠ 0, state = momentum · state + g and
     * g = state; w −= lr · g. {@code state} may be null when momentum is 0.
     */
    void sgdUpdate(Tensor w, Tensor g, Tensor state, double lr, double weightDecay, double momentum,
            double rescaleGrad, double clipGrad);
}
