package ai.fulgur.training.loop;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DeviceGraph;
import ai.fulgur.training.optim.ResumableAdamW;
import java.util.function.BiFunction;

/**
 * One whole training step (forward, loss, backward, clipping, AdamW) captured into a CUDA graph and replayed for the
 * following steps. The graph reads its inputs from static device arrays made at capture; a replay first copies the
 * step's batch into them and the step's AdamW scalars (lr, bias corrections) into the small array the update kernels
 * read, both as asynchronous device work, then launches the graph. The step's loss is written into an array owned
 * here, which stays on the device until someone reads it.
 *
 * <p>Capture does not run the step: {@link #capture} records it, then the caller replays it for the capture's step.
 */
final class CapturedStep implements AutoCloseable {
    private final NDManager manager;
    private final NDList[][] inputs;
    private final NDArray stepScalars;
    private final ResumableAdamW adam;
    private DeviceGraph graph;
    private NDArray loss;

    private CapturedStep(NDManager manager, NDList[][] inputs, NDArray stepScalars, ResumableAdamW adam) {
        this.manager = manager;
        this.inputs = inputs;
        this.stepScalars = stepScalars;
        this.adam = adam;
    }

    /**
     * Records {@code step} (micro-batches {data, labels} and the manager its result goes to, to the step's summed
     * loss; it must queue device work only)
     * with static copies of {@code batches} as its inputs. Fails with {@link ai.fulgur.ops.GraphCaptureException} (or
     * {@link UnsupportedOperationException} off CUDA) when the step cannot be captured; nothing is left behind then.
     */
    static CapturedStep capture(Model model, Device device, ResumableAdamW adam, NDList[][] batches,
            BiFunction<NDList[][], NDManager, NDArray> step) {
        NDManager manager = model.getNDManager().newSubManager(device);
        NDList[][] statics = new NDList[batches.length][];
        for (int m = 0; m < batches.length; m++) {
            statics[m] = new NDList[] {copy(batches[m][0], manager), copy(batches[m][1], manager)};
        }
        NDArray scalars = manager.zeros(new ai.djl.ndarray.types.Shape(3), ai.djl.ndarray.types.DataType.FLOAT32);
        CapturedStep s = new CapturedStep(manager, statics, scalars, adam);
        adam.readStepScalarsFrom(scalars);
        try {
            ai.fulgur.ops.Device d = ai.fulgur.ops.Device.cuda(device.getDeviceId());
            s.graph = Backends.of(d).captureGraph(d, () -> {
                s.loss = step.apply(statics, manager);
            });
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    private static NDList copy(NDList list, NDManager manager) {
        NDList out = new NDList();
        for (NDArray a : list) {
            NDArray c = a.duplicate();
            c.attach(manager);
            out.add(c);
        }
        return out;
    }

    /** Queues step {@code t} (1-based AdamW update count) on {@code batches}: inputs and scalars in, one replay. */
    void replay(NDList[][] batches, int t) {
        if (batches.length != inputs.length) {
            throw new IllegalArgumentException("the captured step takes " + inputs.length + " micro-batches, got "
                    + batches.length);
        }
        for (int m = 0; m < batches.length; m++) {
            for (int k = 0; k < 2; k++) {
                for (int i = 0; i < batches[m][k].size(); i++) {
                    NDArray src = batches[m][k].get(i);
                    NDArray dst = inputs[m][k].get(i);
                    if (!src.getShape().equals(dst.getShape())) {
                        throw new IllegalArgumentException("a CUDA graph replays fixed shapes: captured with input "
                                + dst.getShape() + ", got " + src.getShape());
                    }
                    src.copyTo(dst);
                }
            }
        }
        try (NDManager scope = manager.newSubManager()) {
            scope.create(adam.stepScalars(t)).copyTo(stepScalars);
        }
        graph.replay();
    }

    /** A copy of the last replay's loss, on the device in {@code into} (no host read). */
    NDArray lossCopy(NDManager into) {
        NDArray c = loss.duplicate();
        c.attach(into);
        return c;
    }

    /** Replays so far. */
    long replays() {
        return graph == null ? 0 : graph.replays();
    }

    @Override
    public void close() {
        adam.readStepScalarsFrom(null);
        if (graph != null) {
            graph.close();
            graph = null;
        }
        manager.close();
    }
}
