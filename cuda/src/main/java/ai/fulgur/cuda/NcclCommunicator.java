package ai.fulgur.cuda;

import ai.fulgur.ops.Device;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.distributed.Communicator;
import ai.fulgur.ops.distributed.Rendezvous;
import java.lang.foreign.MemorySegment;

/**
 * One GPU's rank in an NCCL group: rank 0 makes the unique id and publishes it through the {@link Rendezvous}; the
 * collectives run on the device's stream, so they are ordered with the kernels that produce and consume the tensors
 * without any host synchronisation.
 */
final class NcclCommunicator implements Communicator {
    private final CudaDevice device;
    private final int rank;
    private final int size;
    private MemorySegment comm;

    NcclCommunicator(Device device, int rank, int size, Rendezvous rendezvous) {
        this.device = CudaBackend.device(device);
        this.rank = rank;
        this.size = size;
        Nccl nccl = Nccl.get();
        byte[] id;
        if (rank == 0) {
            id = nccl.uniqueId();
            rendezvous.publish(id);
        } else {
            id = rendezvous.await();
        }
        this.comm = nccl.initRank(this.device, id, rank, size);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public void allReduceSum(Tensor t) {
        check("allReduceSum", t);
        Nccl.get().allReduceSum(comm, device, CudaTensors.first(t), t.numel(), t.dtype());
    }

    @Override
    public void broadcast(Tensor t, int root) {
        if (root < 0 || root >= size) {
            throw new IllegalArgumentException("broadcast root must be in [0, " + size + "), got " + root);
        }
        check("broadcast", t);
        Nccl.get().broadcast(comm, device, CudaTensors.first(t), t.numel(), t.dtype(), root);
    }

    private void check(String op, Tensor t) {
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(op + " needs a contiguous tensor, got shape " + t.shape()
                    + " with strides " + java.util.Arrays.toString(t.strides()));
        }
        if (CudaTensors.device(t) != device) {
            throw new IllegalArgumentException(op + ": the tensor is on " + t.device() + " but this rank is on gpu("
                    + device.index() + ")");
        }
    }

    @Override
    public void close() {
        if (comm != null) {
            device.synchronize();
            Nccl.get().destroy(comm);
            comm = null;
        }
    }
}
