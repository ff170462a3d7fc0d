package ai.fulgur.training.precision;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.training.optim.GradientClipping;
import java.util.List;

/**
 * Dynamic loss scaling for F16 training, as PyTorch's {@code GradScaler}: the loss is multiplied by a scale S before
 * backward so that small gradients survive F16's range; before the optimizer step the gradients are divided by S.
 * A step whose gradients hold an inf or NaN (S was too large: something overflowed) is skipped: the gradients are
 * cleared, weights and optimizer moments stay as they were, and S is halved. After {@code growthInterval} good steps
 * in a row S doubles, so it finds the largest value that does not overflow.
 *
 * <p>The check costs one host read per step: the sum of squares of all scaled gradients, computed on their device,
 * is inf or NaN exactly when one gradient is (or when it overflows F32, which a scaled step should not survive
 * either); the same number gives the global norm for clipping, so unscaling and clipping are one multiply per
 * gradient.
 */
public final class LossScaler {
    /** PyTorch's defaults: S = 2¹⁶, doubled after 2000 good steps. */
    public static final double DEFAULT_INITIAL_SCALE = 65536;
    public static final int DEFAULT_GROWTH_INTERVAL = 2000;

    private final int growthInterval;
    private double scale;
    private int goodSteps;
    private long skippedSteps;
    private double lastNorm = Double.NaN;

    /** A scaler with PyTorch's defaults. */
    public LossScaler() {
        this(DEFAULT_INITIAL_SCALE, DEFAULT_GROWTH_INTERVAL);
    }

    /**
     * A scaler starting at {@code initialScale}, doubling it after {@code growthInterval} good steps in a row.
     *
     * @throws IllegalArgumentException unless the scale is positive and finite and the interval positive
     */
    public LossScaler(double initialScale, int growthInterval) {
        if (!(initialScale > 0) || Double.isInfinite(initialScale)) {
            throw new IllegalArgumentException("initial loss scale must be positive and finite, got " + initialScale);
        }
        if (growthInterval <= 0) {
            throw new IllegalArgumentException("growth interval must be a positive number of steps, got "
                    + growthInterval);
        }
        this.scale = initialScale;
        this.growthInterval = growthInterval;
    }

    /** The current scale S. */
    public double scale() {
        return scale;
    }

    /** Steps skipped so far because their gradients overflowed. */
    public long skippedSteps() {
        return skippedSteps;
    }

    /** The global gradient norm (unscaled, before clipping) of the last good step; NaN after a skipped one. */
    public double lastNorm() {
        return lastNorm;
    }

    /** loss · S, the value to back-propagate. */
    public NDArray scaleLoss(NDArray loss) {
        return loss.mul((float) scale);
    }

    /**
     * After backward of a {@link #scaleLoss scaled loss}: checks the gradients of {@code block}'s trainable parameters
     * for inf/NaN. On overflow, clears them, halves S and returns false: the caller skips the optimizer step. Else
     * divides them by S, clips them to {@code maxGradNorm} when positive (global norm, as
     * {@link GradientClipping}), counts the good step (doubling S after the growth interval) and returns true.
     */
    public boolean unscaleAndClip(Block block, double maxGradNorm) {
        List<NDArray> grads = GradientClipping.gradients(block);
        double sumSquares = grads.isEmpty() ? 0 : GradientClipping.sumOfSquares(grads);
        if (!Double.isFinite(sumSquares)) {
            for (NDArray g : grads) {
                clear(g);
            }
            scale /= 2;
            goodSteps = 0;
            skippedSteps++;
            lastNorm = Double.NaN;
            return false;
        }
        double norm = Math.sqrt(sumSquares) / scale;
        double factor = 1 / scale;
        if (maxGradNorm > 0 && norm > maxGradNorm) {
            factor *= maxGradNorm / (norm + 1e-6);
        }
        for (NDArray g : grads) {
            g.muli((float) factor);
        }
        lastNorm = norm;
        if (++goodSteps == growthInterval) {
            scale *= 2;
            goodSteps = 0;
        }
        return true;
    }

    private static void clear(NDArray g) {
        // multiplying by 0 would keep the NaNs; fill instead (a Fulgur gradient array shares the parameter's tensor)
        if (g instanceof FulgurNDArray f) {
            ai.fulgur.ops.elementwise.Elementwise.fill(f.variable().data(), 0);
        } else {
            g.set(new ai.djl.ndarray.index.NDIndex("..."), 0);
        }
    }
}
