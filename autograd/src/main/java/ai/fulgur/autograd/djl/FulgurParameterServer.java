package ai.fulgur.autograd.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.training.LocalParameterServer;
import ai.djl.training.ParameterServer;
import ai.djl.training.optimizer.Optimizer;

/**
 * The parameter server DJL's Trainer gets from the Fulgur engine: for a parameter held on one device it hands the
 * optimizer the gradient itself. DJL's {@link LocalParameterServer} first duplicates every gradient (PyTorch's
 * optimizer zeroes the gradient it updates from, which would spoil the copies for other devices): on a GPU that is
 * one device-to-device copy per parameter per step (148 for GPT-2 124M, about 0.25 ms a step on an H200) that one
 * device does not need. Fulgur's update kernels read the gradient before the optimizer zeroes it, in stream order.
 * Several devices (or {@code -Dfulgur.djl.duplicateGradients=true}) go to DJL's server unchanged.
 */
final class FulgurParameterServer implements ParameterServer {
    /** {@code -Dfulgur.djl.duplicateGradients=true}: DJL's duplicating server always (the path before this one). */
    static final boolean DUPLICATE = Boolean.getBoolean("fulgur.djl.duplicateGradients");

    private final Optimizer optimizer;
    private final LocalParameterServer several;

    FulgurParameterServer(Optimizer optimizer) {
        this.optimizer = optimizer;
        this.several = new LocalParameterServer(optimizer);
    }

    @Override
    public void init(String parameterId, NDArray[] value) {
        several.init(parameterId, value);
    }

    @Override
    public void update(String parameterId, NDArray[] grads, NDArray[] params) {
        if (DUPLICATE || grads.length != 1 || params.length != 1
                || !grads[0].getDevice().equals(params[0].getDevice())) {
            several.update(parameterId, grads, params);
            return;
        }
        optimizer.update(parameterId, params[0], grads[0]);
    }

    @Override
    public void close() {
        several.close();
    }
}
