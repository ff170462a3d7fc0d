package ai.fulgur.training.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.List;

/**
 * Clipping by global norm, as PyTorch's {@code clip_grad_norm_}: when the L2 norm of all gradients together exceeds
 * {@code maxNorm}, every gradient is scaled by {@code maxNorm / (norm + 1e-6)}, which keeps the update's direction
 * (DJL's optimizer option clips each element instead).
 */
public final class GradientClipping {
    private GradientClipping() {
    }

    /** Clips the gradients of {@code block}'s trainable parameters in place; returns the norm before clipping. */
    public static double clipByGlobalNorm(Block block, double maxNorm) {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("maxNorm must be positive, got " + maxNorm);
        }
        List<NDArray> grads = gradients(block);
        if (grads.isEmpty()) {
            return 0;
        }
        double norm = Math.sqrt(sumOfSquares(grads));
        if (norm > maxNorm) {
            float scale = (float) (maxNorm / (norm + 1e-6));
            for (NDArray g : grads) {
                g.muli(scale);
            }
        }
        return norm;
    }

    /**
     * {@link #clipByGlobalNorm} without a host read, as PyTorch's {@code clip_grad_norm_} computes it: the norm, the
     * coefficient min(maxNorm / (norm + 1e-6), 1) and the scaling all stay on the device (F32), so a training step
     * can run ahead of the host and be captured into a CUDA graph. Where the norm is within maxNorm the coefficient is
     * exactly 1 and the gradients are unchanged; where it clips, the coefficient is rounded to F32 (the host version
     * rounds a double). Returns the norm before clipping, a scalar array in {@code scope}; null when no parameter has
     * a gradient.
     */
    public static NDArray clipByGlobalNormOnDevice(Block block, double maxNorm, NDManager scope) {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("maxNorm must be positive, got " + maxNorm);
        }
        List<NDArray> grads = gradients(block);
        if (grads.isEmpty()) {
            return null;
        }
        NDArray total = null;
        for (NDArray g : grads) {
            NDArray square = g.square();
            square.attach(scope); // results go to the first operand's manager: from here on, the scope
            NDArray partial = square.sum().toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
            total = total == null ? partial : total.add(partial);
        }
        NDArray norm = total.sqrt();
        NDArray coefficient = scope.create((float) maxNorm).div(norm.add(1e-6f)).minimum(1f);
        for (NDArray g : grads) {
            g.muli(coefficient);
        }
        return norm;
    }

    /** The gradient arrays of {@code block}'s trainable parameters (the parameters' own, not copies). */
    public static List<NDArray> gradients(Block block) {
        List<NDArray> grads = new ArrayList<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            NDArray w = p.getValue().getArray();
            if (p.getValue().requiresGradient() && w.hasGradient()) {
                grads.add(w.getGradient());
            }
        }
        return grads;
    }

    /**
     * Σ g² over all elements of {@code grads} (not empty), in F32: summed on the gradients' device and read back
     * once, so one host sync per step, not one per parameter. Inf or NaN when any element is.
     */
    public static double sumOfSquares(List<NDArray> grads) {
        // the temporaries live in a scope closed at once (results go to the first operand's manager, so each square
        // is moved into it)
        try (NDManager scope = grads.get(0).getManager().newSubManager()) {
            NDArray total = null;
            for (NDArray g : grads) {
                NDArray square = g.square();
                square.attach(scope);
                NDArray partial = square.sum().toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
                total = total == null ? partial : total.add(partial);
            }
            return total.getFloat();
        }
    }
}
