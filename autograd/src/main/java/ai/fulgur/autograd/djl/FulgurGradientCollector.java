package ai.fulgur.autograd.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.training.GradientCollector;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.elementwise.Elementwise;
import java.util.Collections;
import java.util.Set;
import java.util.WeakHashMap;

/**
 * DJL's recording scope over Fulgur's tape. While one is open, ops on Fulgur NDArrays record the graph; outside it
 * (validation, metrics, initialisers, optimizer updates) nothing is recorded. One may be open at a time per process,
 * as in DJL's PyTorch engine: the flag is global, not per thread, because DJL's data loaders create arrays on other
 * threads.
 */
public final class FulgurGradientCollector implements GradientCollector {
    private static volatile boolean recording;
    private static final Set<Variable> LEAVES = Collections.synchronizedSet(
            Collections.newSetFromMap(new WeakHashMap<>()));

    private boolean closed;

    FulgurGradientCollector() {
        synchronized (FulgurGradientCollector.class) {
            if (recording) {
                throw new IllegalStateException("a GradientCollector is already open: close it (try-with-resources) "
                        + "before opening another");
            }
            recording = true;
        }
    }

    /** True while a collector is open. */
    static boolean isRecording() {
        return recording;
    }

    /** Remembers a leaf that accumulates gradients, for {@link #zeroGradients()}. */
    static void registerLeaf(Variable leaf) {
        LEAVES.add(leaf);
    }

    /**
     * Back-propagates from {@code target}, seeded with ones of its shape (so non-scalar targets act as their sum, as
     * in DJL's other engines), accumulating into every leaf that requires a gradient.
     */
    @Override
    public void backward(NDArray target) {
        Variable v = FulgurNDArray.variableOf(target, "GradientCollector.backward");
        v.backward(Elementwise.onesLike(v.data()));
    }

    /** Sets every gradient of this process's parameters to zero. */
    @Override
    public void zeroGradients() {
        synchronized (LEAVES) {
            for (Variable leaf : LEAVES) {
                leaf.zeroGrad();
            }
        }
    }

    /** Stops recording; gradients stay for the optimizer step that follows. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            recording = false;
        }
    }
}
