package ai.fulgur.ops.optim;

import ai.fulgur.ops.Tensor;

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
        float[] s = step.toFloatArray();
        double lr = s[0];
        double bc1 = s[1] == 0 ? 1 : lr / s[1];
        adamUpdate(w, g, m, v, new AdamParams(lr, p.beta1(), p.beta2(), p.eps(), p.weightDecay(), p.decoupled(), bc1,
                (double) s[2] * s[2], p.rescaleGrad(), p.clipGrad()));
    }

    /**
     * One SGD step: g = clip(rescaleGrad · grad) + weightDecay · w; if momentum ≠ 0, state = momentum · state + g and
     * g = state; w −= lr · g. {@code state} may be null when momentum is 0.
     */
    void sgdUpdate(Tensor w, Tensor g, Tensor state, double lr, double weightDecay, double momentum,
            double rescaleGrad, double clipGrad);
}
