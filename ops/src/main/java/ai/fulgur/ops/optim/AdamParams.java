package ai.fulgur.ops.optim;

/**
 * One Adam/AdamW step's scalars. The update, with g = clip(rescaleGrad · grad):
 * <pre>
 *   g += weightDecay · w                         (Adam: L2 penalty in the gradient; skipped when decoupled)
 *   m  = beta1 · m + (1 − beta1) · g
 *   v  = beta2 · v + (1 − beta2) · g²
 *   w -= lr · weightDecay · w                    (AdamW: decoupled decay; only when decoupled)
 *   w -= lr / bc1 · m / (√v / √bc2 + eps)
 * </pre>
 * bc1 = 1 − beta1^t and bc2 = 1 − beta2^t are the bias corrections. A caller whose step size already holds them (DJL
 * passes lrBiasCorrection) sets bc1 = lr / stepSize, which may exceed 1, and bc2 = 1.
 * clipGrad &lt; 0 disables clipping; otherwise g is clamped to [−clipGrad, clipGrad].
 */
public record AdamParams(double lr, double beta1, double beta2, double eps, double weightDecay, boolean decoupled,
        double bc1, double bc2, double rescaleGrad, double clipGrad) {

    public AdamParams {
        if (!(lr >= 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps >= 0)
                || !(weightDecay >= 0) || !(bc1 > 0) || !(bc2 > 0 && bc2 <= 1)) {
            throw new IllegalArgumentException("invalid Adam parameters: " + "lr=" + lr + " beta1=" + beta1 + " beta2="
                    + beta2 + " eps=" + eps + " weightDecay=" + weightDecay + " bc1=" + bc1 + " bc2=" + bc2
                    + " (expected lr, eps, weightDecay >= 0, betas in [0, 1), bc1 > 0, bc2 in (0, 1])");
        }
    }

    /** PyTorch's {@code torch.optim.AdamW} (or {@code Adam} when not decoupled) at step {@code t} (1-based). */
    public static AdamParams torch(double lr, double beta1, double beta2, double eps, double weightDecay,
            boolean decoupled, long t) {
        return new AdamParams(lr, beta1, beta2, eps, weightDecay, decoupled, 1 - Math.pow(beta1, t),
                1 - Math.pow(beta2, t), 1, -1);
    }

    /**
     * DJL's Adam/AdamW step ({@code Engine.adamUpdate}): {@code stepSize} (DJL's lrBiasCorrection) already holds the
     * bias corrections, so bc1 = lr / stepSize (1 when stepSize is 0) and bc2 = 1.
     */
    public static AdamParams djl(double lr, double stepSize, double beta1, double beta2, double eps,
            double weightDecay, boolean decoupled, double rescaleGrad, double clipGrad) {
        return new AdamParams(lr, beta1, beta2, eps, weightDecay, decoupled, bc1FromStepSize(lr, stepSize), 1,
                rescaleGrad, clipGrad);
    }

    /** lr / bc1 as a step size back to bc1 (a step size of 0 takes bc1 = 1). */
    private static double bc1FromStepSize(double lr, double stepSize) {
        return stepSize == 0 ? 1 : lr / stepSize;
    }

    /** These parameters with weight decay {@code wd} (0 for a tensor excluded from decay). */
    public AdamParams withWeightDecay(double wd) {
        return wd == weightDecay ? this
                : new AdamParams(lr, beta1, beta2, eps, wd, decoupled, bc1, bc2, rescaleGrad, clipGrad);
    }

    /**
     * These parameters with the per-step scalars of {@code step} = {lr, stepSize = lr / bc1, √bc2} as read from
     * device memory by {@link OptimKernels#adamUpdateWithStepScalars} (stepSize 0 means bc1 = 1).
     */
    public AdamParams withStepScalars(float[] step) {
        return new AdamParams(step[0], beta1, beta2, eps, weightDecay, decoupled, bc1FromStepSize(step[0], step[1]),
                (double) step[2] * step[2], rescaleGrad, clipGrad);
    }
}
