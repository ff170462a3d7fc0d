package ai.fulgur.ops.distributed;

import ai.fulgur.ops.Tensor;

/**
 * One rank's handle on a group of processes that combine tensors: the collective operations data-parallel training
 * needs. Every rank calls the same operations in the same order with tensors of the same shape and dtype; a call
 * returns once this rank's part is queued (GPU) or done (CPU), ordered with the device's other work.
 */
public interface Communicator extends AutoCloseable {

    /** This process's rank, 0 … size − 1. */
    int rank();

    /** The number of ranks. */
    int size();

    /** Replaces {@code t} (contiguous) on every rank by the element-wise sum of all ranks' {@code t}. */
    void allReduceSum(Tensor t);

    /**
     * Starts {@link #allReduceSum} beside this rank's other work and returns at once. On a GPU it runs on a
     * communication stream once the work already queued on the device's stream (which produces {@code t}) is done,
     * while the work queued after it goes on; nothing may read or write {@code t} before the returned handle's
     * {@link PendingCollective#await()}. Every rank must start the same collectives in the same order, interleaved
     * the same way with its blocking ones. By default the sum runs now and the handle is already done (the CPU hub).
     */
    default PendingCollective startAllReduceSum(Tensor t) {
        allReduceSum(t);
        return PendingCollective.DONE;
    }

    /** Replaces {@code t} (contiguous) on every rank by rank {@code root}'s {@code t}. */
    void broadcast(Tensor t, int root);

    /** Leaves the group. */
    @Override
    void close();
}
