package ai.fulgur.training.distributed;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fulgur.autograd.Variable;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.distributed.Collectives;
import ai.fulgur.ops.distributed.Communicator;
import ai.fulgur.ops.distributed.Rendezvous;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.elementwise.UnaryOp;
import java.util.ArrayList;
import java.util.List;

/**
 * Data parallelism, one process per device: every rank holds the whole model, takes its slice of each global batch,
 * and before the optimizer step the gradients are averaged over the ranks, so every rank applies the same update and
 * the weights stay identical. With the same global batch the run computes what one process computes (up to the order
 * of floating-point additions).
 *
 * <p>Gradients are averaged in buckets of about {@value #BUCKET_BYTES} bytes by default (PyTorch DDP's size), one
 * collective call per bucket. Two ways, chosen by {@link #optOverlap}: overlapped (the default), the buckets'
 * all-reduces start during the backward pass as their last gradients are final ({@link #overlap},
 * {@link GradientBuckets}); or after the backward, {@link #averageGradients}, where the gradients of consecutive
 * parameters of one dtype are copied into one flat buffer, all-reduced, scaled by 1/size and copied back. Both add
 * the same numbers, so they give the same gradients.
 */
public final class DataParallel implements AutoCloseable {
    /** Default bytes of gradients per all-reduce. */
    public static final long BUCKET_BYTES = 25L << 20;

    private final Communicator communicator;
    private boolean overlap = true;
    private long bucketBytes = BUCKET_BYTES;

    /** Data parallelism over {@code communicator}'s group. */
    public DataParallel(Communicator communicator) {
        this.communicator = communicator;
    }

    /**
     * Whether the training loop overlaps the all-reduces with the backward pass (default true) or runs them after
     * it. Returns this.
     */
    public DataParallel optOverlap(boolean on) {
        this.overlap = on;
        return this;
    }

    /** Bytes of gradients per all-reduce (default {@value #BUCKET_BYTES}). Returns this. */
    public DataParallel optBucketBytes(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("the bucket size must be a positive number of bytes, got " + bytes);
        }
        this.bucketBytes = bytes;
        return this;
    }

    /** True when the training loop overlaps the all-reduces with the backward pass. */
    public boolean overlaps() {
        return overlap;
    }

    /** Bytes of gradients per all-reduce. */
    public long bucketBytes() {
        return bucketBytes;
    }

    /**
     * Buckets for {@code block}'s trainable parameters whose all-reduces start during the backward pass; the caller
     * calls {@link GradientBuckets#awaitMean()} before each optimizer step and closes them at the end of the run.
     * Make them after {@link #broadcastParameters} and before the first backward.
     */
    public GradientBuckets overlap(Block block) {
        List<Variable> parameters = new ArrayList<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (p.getValue().requiresGradient()) {
                parameters.add(FulgurNDArray.variableOf(p.getValue().getArray(), "DataParallel.overlap"));
            }
        }
        return new GradientBuckets(communicator, parameters, bucketBytes);
    }

    /**
     * Joins a group as {@code rank} of {@code size}, training on {@code device} (a CPU group talks over loopback; a
     * GPU group through NCCL).
     */
    public static DataParallel join(ai.djl.Device device, int rank, int size, Rendezvous rendezvous) {
        Device d = device.isGpu() ? Device.cuda(device.getDeviceId()) : Device.CPU;
        return new DataParallel(Collectives.join(d, rank, size, rendezvous));
    }

    /** Leaves the group. */
    @Override
    public void close() {
        communicator.close();
    }

    /** This process's rank. */
    public int rank() {
        return communicator.rank();
    }

    /** The number of ranks. */
    public int size() {
        return communicator.size();
    }

    /** Whether this rank reports progress and writes checkpoints (rank 0). */
    public boolean isLeader() {
        return communicator.rank() == 0;
    }

    /** Samples per step on each rank: the global batch split evenly. */
    public int localBatch(int globalBatch) {
        if (globalBatch % size() != 0) {
            throw new IllegalArgumentException("the batch of " + globalBatch + " samples does not split evenly over "
                    + size() + " data-parallel ranks; give a multiple of " + size());
        }
        return globalBatch / size();
    }

    /** This rank's first sample of the global batch that starts at {@code globalFirst}. */
    public long localFirst(long globalFirst, int globalBatch) {
        return globalFirst + (long) rank() * localBatch(globalBatch);
    }

    /** Makes every rank's trainable parameters equal to rank 0's (start of a run). */
    public void broadcastParameters(Block block) {
        for (Pair<String, Parameter> p : block.getParameters()) {
            NDArray w = p.getValue().getArray();
            communicator.broadcast(FulgurNDArray.variableOf(w, "broadcastParameters").data(), 0);
        }
    }

    /** Replaces each rank's gradients by their mean over the ranks, after the backward pass (not overlapped). */
    public void averageGradients(Block block) {
        List<Tensor> grads = new ArrayList<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            NDArray w = p.getValue().getArray();
            if (p.getValue().requiresGradient() && w.hasGradient()) {
                Tensor g = FulgurNDArray.variableOf(w, "averageGradients").grad();
                if (g != null) {
                    grads.add(g);
                }
            }
        }
        averageGradients(grads);
    }

    /** Replaces the tensors {@code grads} (one per parameter, in registration order) by their means over the ranks. */
    public void averageGradients(List<Tensor> grads) {
        if (size() == 1) {
            return;
        }
        List<Tensor> bucket = new ArrayList<>();
        long bytes = 0;
        for (Tensor g : grads) {
            long size = g.numel() * g.dtype().byteSize();
            if (!bucket.isEmpty() && (bytes + size > bucketBytes || bucket.get(0).dtype() != g.dtype())) {
                reduceBucket(bucket);
                bucket.clear();
                bytes = 0;
            }
            bucket.add(g);
            bytes += size;
        }
        if (!bucket.isEmpty()) {
            reduceBucket(bucket);
        }
    }

    /** The mean over the ranks of a scalar array (a step's loss), read back to the host. */
    public double average(NDArray scalar) {
        Tensor t = FulgurNDArray.variableOf(scalar, "average").data().cast(DType.F32).copy();
        communicator.allReduceSum(t);
        return t.item() / size();
    }

    private void reduceBucket(List<Tensor> bucket) {
        double scale = 1.0 / size();
        if (bucket.size() == 1 && bucket.get(0).isContiguous()) {
            Tensor g = bucket.get(0);
            communicator.allReduceSum(g);
            Elementwise.unaryInPlace(UnaryOp.MUL_SCALAR, g, scale);
            return;
        }
        long total = 0;
        for (Tensor g : bucket) {
            total += g.numel();
        }
        DType dtype = bucket.get(0).dtype();
        Tensor flat = Tensor.empty(Shape.of(total), dtype, bucket.get(0).device());
        long at = 0;
        for (Tensor g : bucket) {
            Elementwise.assign(flat.slice(0, at, at + g.numel()).reshape(g.shape()), g);
            at += g.numel();
        }
        communicator.allReduceSum(flat);
        Elementwise.unaryInPlace(UnaryOp.MUL_SCALAR, flat, scale);
        at = 0;
        for (Tensor g : bucket) {
            Elementwise.assign(g, flat.slice(0, at, at + g.numel()).reshape(g.shape()));
            at += g.numel();
        }
    }
}
