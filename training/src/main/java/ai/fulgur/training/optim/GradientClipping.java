package ai.fulgur.training.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.List;

/**
 * Clipping by global norm, as PyTorch's {@code clip_grad_norm_}: every gradient is multiplied by
 * {@code min(1, maxNorm / (norm + 1e-6))}, where norm is the L2 norm of all gradients together, which keeps the update's
 * direction (DJL's optimizer option clips each element instead). The norm and the factor stay on the gradients'
 * device: nothing is read back to the host, so a GPU step does not wait here for its stream to drain.
 */
public final class GradientClipping {
    private GradientClipping() {
    }

    /**
     * Clips the gradients of {@code block}'s trainable parameters in place; returns the norm before clipping, a
     * scalar F32 array on the gradients' device attached to {@code into} (null when there are no gradients). Reading
     * it ({@code getFloat()}) is the caller's choice and costs a device sync.
     */
    public static NDArray clipByGlobalNorm(Block block, double maxNorm, NDManager into) {
        return clipByGlobalNorm(gradients(block), maxNorm, into);
    }

    /** As {@link #clipByGlobalNorm(Block, double, NDManager)} for the given gradient arrays. */
    public static NDArray clipByGlobalNorm(List<NDArray> grads, double maxNorm, NDManager into) {
        if (!(maxNorm > 0) || Double.isInfinite(maxNorm)) {
            throw new IllegalArgumentException("maxNorm must be positive and finite, got " + maxNorm);
        }
        if (grads.isEmpty()) {
            return null;
        }
        try (NDManager scope = grads.get(0).getManager().newSubManager()) {
            NDArray norm = sumOfSquares(grads, scope).sqrt();
            // the factor is computed, not branched on: min(1, ·) is 1 below the bound, so no host decision is needed
            // (an inf or NaN norm gives a factor of 0 or NaN, as in PyTorch without error_if_nonfinite)
            NDArray factor = norm.add(1e-6).pow(-1).mul(maxNorm).minimum(1);
            for (NDArray g : grads) {
                g.muli(factor);
            }
            norm.attach(into);
            return norm;
        }
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
     * Σ g² over all elements of {@code grads} (not empty), in F32, as a scalar on the gradients' device attached to
     * {@code into}; inf or NaN when any element is.
     */
    public static NDArray sumOfSquares(List<NDArray> grads, NDManager into) {
        NDArray total = null;
        try (NDManager scope = grads.get(0).getManager().newSubManager()) {
            for (NDArray g : grads) {
                // results go to the first operand's manager, so each square is moved into the scope at once
                NDArray square = g.square();
                square.attach(scope);
                NDArray partial = square.sum().toType(DataType.FLOAT32, false);
                total = total == null ? partial : total.add(partial);
            }
            total.attach(into);
        }
        return total;
    }

    /** {@link #sumOfSquares(List, NDManager)} read back to the host: one device sync. */
    public static double sumOfSquares(List<NDArray> grads) {
        try (NDManager scope = grads.get(0).getManager().newSubManager()) {
            return sumOfSquares(grads, scope).getFloat();
        }
    }
}
