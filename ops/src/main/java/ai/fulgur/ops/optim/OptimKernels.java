package ai.fulgur.ops.optim;

import ai.fulgur.ops.Tensor;

/** Kernel SPI: optimizer updates, in place on the parameter and its state. Tensors are contiguous, same shape. */
public interface OptimKernels {

    /** One Adam/AdamW step on w with gradient g and moments m, v (see {@link AdamParams}). */
    void adamUpdate(Tensor w, Tensor g, Tensor m, Tensor v, AdamParams p);

    /**
     * One SGD step: g = clip(rescaleGrad · grad) + weightDecay · w; if momentum ≠ 0, state = momentum · state + g and
     * g = state; w −= lr · g. {@code state} may be null when momentum is 0.
     */
    void sgdUpdate(Tensor w, Tensor g, Tensor state, double lr, double weightDecay, double momentum,
            double rescaleGrad, double clipGrad);
}
