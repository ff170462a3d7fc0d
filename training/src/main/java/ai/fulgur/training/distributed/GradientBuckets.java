package ai.fulgur.training.distributed;

import ai.fulgur.autograd.GradientReadyHook;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.distributed.Communicator;
import ai.fulgur.ops.distributed.PendingCollective;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.elementwise.UnaryOp;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Gradients averaged over the ranks while the backward pass still runs (the scheme of PyTorch DDP's reducer).
 *
 * <p>The parameters are laid out, in reverse registration order (the order backward finishes them: the last layer
 * first), in flat buckets of at most {@code bucketBytes} per dtype, allocated once; each parameter's gradient is a
 * view of its slice of a bucket, so the backward pass accumulates straight into the buckets and nothing is copied in
 * or out. A {@link GradientReadyHook} on every parameter counts the bucket down; when a bucket's last gradient is
 * final, its all-reduce starts ({@link Communicator#startAllReduceSum}: on a GPU on the communication stream, after
 * an event on the compute stream) while the backward goes on with earlier layers. Buckets start strictly in index
 * order, so every rank makes the same collective calls in the same order even if its backward finishes parameters in
 * another order. {@link #awaitMean()}, before the optimizer step, counts as ready what the backward did not reach
 * (an unused parameter contributes its zeros), makes the compute stream wait for every sum and scales it by 1/size.
 *
 * <p>With several backward passes per step (gradient accumulation), {@link #reduceDuringBackward(boolean)} false
 * keeps the hooks quiet until the last pass: the buckets only accumulate, and are reduced once.
 */
public final class GradientBuckets implements AutoCloseable {

    /** One flat buffer and the parameters whose gradients are views of it. */
    private static final class Bucket {
        final int index;
        final DType dtype;
        final List<Slot> slots = new ArrayList<>();
        long elements;
        Tensor flat;
        int waiting;
        PendingCollective sum;

        Bucket(int index, DType dtype) {
            this.index = index;
            this.dtype = dtype;
        }
    }

    /** A parameter's place in its bucket. */
    private static final class Slot {
        final Variable parameter;
        final Bucket bucket;
        final long offset;
        Tensor view;
        boolean ready;

        Slot(Variable parameter, Bucket bucket, long offset) {
            this.parameter = parameter;
            this.bucket = bucket;
            this.offset = offset;
        }
    }

    private final Communicator communicator;
    private final List<Bucket> buckets = new ArrayList<>();
    private final Map<Variable, Slot> slots = new IdentityHashMap<>();
    private final GradientReadyHook hook = this::gradientReady;
    private int nextToStart;
    private boolean reduceDuringBackward = true;
    private boolean closed;

    /**
     * Buckets for {@code parameters} (in registration order; those that need no gradient are left out) on one
     * device, reduced over {@code communicator}'s group.
     *
     * @param bucketBytes the most bytes of gradients per bucket; a parameter larger than that gets a bucket alone
     */
    public GradientBuckets(Communicator communicator, List<Variable> parameters, long bucketBytes) {
        if (bucketBytes <= 0) {
            throw new IllegalArgumentException("the bucket size must be a positive number of bytes, got "
                    + bucketBytes);
        }
        this.communicator = communicator;
        Map<DType, Bucket> open = new LinkedHashMap<>();
        ai.fulgur.ops.Device device = null;
        for (int i = parameters.size() - 1; i >= 0; i--) {
            Variable p = parameters.get(i);
            if (!p.requiresGrad()) {
                continue;
            }
            if (slots.containsKey(p)) {
                throw new IllegalArgumentException("parameter " + i + " " + p.shape() + " is listed twice");
            }
            if (device == null) {
                device = p.device();
            } else if (!device.equals(p.device())) {
                throw new IllegalArgumentException("data parallelism keeps one device per rank, but parameter " + i
                        + " is on " + p.device() + " and others on " + device);
            }
            DType dtype = p.dtype();
            long bytes = p.data().numel() * dtype.byteSize();
            Bucket b = open.get(dtype);
            if (b != null && b.elements > 0 && (b.elements * dtype.byteSize() + bytes > bucketBytes)) {
                b = null;
            }
            if (b == null) {
                b = new Bucket(buckets.size(), dtype);
                buckets.add(b);
                open.put(dtype, b);
            }
            Slot s = new Slot(p, b, b.elements);
            b.slots.add(s);
            b.elements += p.data().numel();
            slots.put(p, s);
        }
        for (Bucket b : buckets) {
            b.flat = Tensor.zeros(Shape.of(b.elements), b.dtype, device);
            b.waiting = b.slots.size();
            for (Slot s : b.slots) {
                s.view = b.flat.slice(0, s.offset, s.offset + s.parameter.data().numel())
                        .reshape(s.parameter.shape());
                adoptGradient(s);
                s.parameter.addGradientReadyHook(hook);
            }
        }
    }

    /**
     * Whether the coming backward passes start the all-reduces (true, the default); false for all but the last
     * micro-batch of a step, whose gradients only accumulate.
     */
    public void reduceDuringBackward(boolean on) {
        this.reduceDuringBackward = on;
    }

    /** The number of buckets. */
    public int bucketCount() {
        return buckets.size();
    }

    /** Elements per bucket, in the order they are reduced. */
    public long[] bucketElements() {
        long[] out = new long[buckets.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = buckets.get(i).elements;
        }
        return out;
    }

    /** The bucket {@code parameter}'s gradient lives in (its index in reduction order). */
    public int bucketOf(Variable parameter) {
        Slot s = slots.get(parameter);
        if (s == null) {
            throw new IllegalArgumentException("the parameter " + parameter + " is not in these buckets");
        }
        return s.bucket.index;
    }

    /** The number of buckets whose all-reduce has started since the last {@link #awaitMean()}. */
    public int startedBuckets() {
        return nextToStart;
    }

    private void gradientReady(Variable parameter) {
        if (!reduceDuringBackward || closed) {
            return;
        }
        Slot s = slots.get(parameter);
        if (s.ready) {
            throw new IllegalStateException("a second backward pass finished the gradient of parameter "
                    + parameter.shape() + " before the gradients were averaged; with several backward passes per "
                    + "step (gradient accumulation) call reduceDuringBackward(false) for all but the last");
        }
        markReady(s);
    }

    private void markReady(Slot s) {
        adoptGradient(s);
        s.ready = true;
        if (--s.bucket.waiting == 0) {
            startReadyBuckets();
        }
    }

    /** Makes the parameter's gradient its view of the bucket again if something replaced it (or left none). */
    private static void adoptGradient(Slot s) {
        Tensor g = s.parameter.grad();
        if (g == s.view) {
            return;
        }
        if (g == null) {
            Elementwise.fill(s.view, 0);
        } else {
            Elementwise.assign(s.view, g);
        }
        s.parameter.setGrad(s.view);
    }

    private void startReadyBuckets() {
        while (nextToStart < buckets.size() && buckets.get(nextToStart).waiting == 0) {
            Bucket b = buckets.get(nextToStart++);
            b.sum = communicator.startAllReduceSum(b.flat);
        }
    }

    /**
     * Completes the step's reduction: parameters the backward did not finish count as ready with the gradient they
     * hold (zeros for one no pass reached), the remaining buckets start, the device waits for every sum, and each
     * bucket is scaled by 1/size, so every gradient is the mean over the ranks. Call it once per step, after the
     * last backward and before the gradients are read (clipping, the optimizer).
     */
    public void awaitMean() {
        if (closed) {
            throw new IllegalStateException("awaitMean() after close()");
        }
        for (Bucket b : buckets) {
            for (Slot s : b.slots) {
                if (!s.ready) {
                    markReady(s);
                }
            }
        }
        double scale = 1.0 / communicator.size();
        for (Bucket b : buckets) {
            b.sum.await();
            Elementwise.unaryInPlace(UnaryOp.MUL_SCALAR, b.flat, scale);
            b.sum = null;
            b.waiting = b.slots.size();
            for (Slot s : b.slots) {
                s.ready = false;
            }
        }
        nextToStart = 0;
    }

    /** Removes the hooks; the gradients stay views of the buckets (which live as long as they do). */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            for (Slot s : slots.values()) {
                s.parameter.removeGradientReadyHook(hook);
            }
        }
    }
}
