package ai.fulgur.ops.distributed;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Device;

/** Joins a group of ranks on one kind of device: the CPU hub over loopback TCP, or the GPU backend's NCCL. */
public final class Collectives {
    private Collectives() {
    }

    /**
     * Joins as {@code rank} of {@code size} ranks, each on its own {@code device}; blocks until every rank has joined
     * (or the rendezvous times out). Rank 0 must be one of the joiners.
     */
    public static Communicator join(Device device, int rank, int size, Rendezvous rendezvous) {
        if (size < 1) {
            throw new IllegalArgumentException("the group size must be >= 1, got " + size);
        }
        if (rank < 0 || rank >= size) {
            throw new IllegalArgumentException("rank must be in [0, " + size + "), got " + rank);
        }
        return Backends.of(device).communicator(device, rank, size, rendezvous);
    }
}
