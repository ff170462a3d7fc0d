package ai.fulgur.autograd;

/**
 * Called by a backward pass when a leaf's gradient for that pass is final: the last contribution the graph makes to
 * it has been accumulated into {@link Variable#grad()} (as PyTorch's post-accumulate-grad hook). Data parallelism uses
 * it to start reducing a bucket of gradients while the rest of the backward still runs.
 *
 * <p>Runs on the thread of the backward, once per backward pass that reaches the leaf (also when every op reading it
 * passed no gradient back: then the pass added nothing, and the gradient is as final as it gets); a leaf the graph
 * does not reach (an unused parameter) gets no call. On a GPU the accumulation is queued, not done: work the hook
 * queues on the same stream runs after it.
 */
@FunctionalInterface
public interface GradientReadyHook {
    /** {@code leaf}'s gradient of this backward pass is complete. */
    void gradientReady(Variable leaf);
}
