package ai.fulgur.cuda;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static jcuda.driver.JCudaDriver.cuStreamWaitEvent;

import ai.fulgur.ops.Device;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.distributed.Communicator;
import ai.fulgur.ops.distributed.PendingCollective;
import ai.fulgur.ops.distributed.Rendezvous;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUstream_flags;

/**
 * One GPU's rank in an NCCL group: rank 0 makes the unique id and publishes it through the {@link Rendezvous}.
 * Every collective runs on this rank's communication stream, after an event recorded on the device's stream (so the
 * kernels producing the tensor have run) and without any host synchronisation: a blocking call makes the device's
 * stream wait for it at once, {@link #startAllReduceSum} leaves that to its handle, so the device's stream runs on
 * (a backward pass, say) while the sum crosses the GPUs. One stream for all collectives keeps them in the order they
 * were called, as every rank calls them.
 */
final class NcclCommunicator implements Communicator {
    private final CudaDevice device;
    private final int rank;
    private final int size;
    private final NativeStream collectives = new NativeStream();
    private final ArrayDeque<CUevent> freeEvents = new ArrayDeque<>();
    private final List<CUevent> allEvents = new ArrayList<>();
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
        this.device.enter();
        // non-blocking: it must not wait for, nor hold up, the legacy default stream's work
        cuStreamCreate(collectives, CUstream_flags.CU_STREAM_NON_BLOCKING);
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
        startAllReduceSum(t).await();
    }

    @Override
    public PendingCollective startAllReduceSum(Tensor t) {
        check("allReduceSum", t);
        long address = CudaTensors.first(t);
        return launch(() -> Nccl.get().allReduceSum(comm, device, collectives, address, t.numel(), t.dtype()));
    }

    @Override
    public void broadcast(Tensor t, int root) {
        if (root < 0 || root >= size) {
            throw new IllegalArgumentException("broadcast root must be in [0, " + size + "), got " + root);
        }
        check("broadcast", t);
        long address = CudaTensors.first(t);
        launch(() -> Nccl.get().broadcast(comm, device, collectives, address, t.numel(), t.dtype(), root)).await();
    }

    /** Queues {@code collective} on the communication stream behind the device stream's work so far. */
    private PendingCollective launch(Runnable collective) {
        if (comm == null) {
            throw new IllegalStateException("rank " + rank + " of " + size + " has left its NCCL group (close())");
        }
        device.enter();
        CUevent produced = event();
        cuEventRecord(produced, device.stream());
        cuStreamWaitEvent(collectives, produced, 0);
        freeEvents.push(produced); // reusable now: the wait took the record it follows
        collective.run();
        CUevent finished = event();
        cuEventRecord(finished, collectives);
        return new Pending(finished);
    }

    private CUevent event() {
        CUevent e = freeEvents.poll();
        if (e == null) {
            e = new CUevent();
            cuEventCreate(e, CUevent_flags.CU_EVENT_DISABLE_TIMING);
            allEvents.add(e);
        }
        return e;
    }

    /** A collective on the communication stream, until the device's stream is made to wait for it. */
    private final class Pending implements PendingCollective {
        private CUevent finished;

        Pending(CUevent finished) {
            this.finished = finished;
        }

        @Override
        public void await() {
            if (finished == null) {
                return;
            }
            device.enter();
            cuStreamWaitEvent(device.stream(), finished, 0);
            freeEvents.push(finished);
            finished = null;
        }
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
            device.enter();
            cuStreamSynchronize(collectives);
            Nccl.get().destroy(comm);
            comm = null;
            for (CUevent e : allEvents) {
                cuEventDestroy(e);
            }
            allEvents.clear();
            freeEvents.clear();
            cuStreamDestroy(collectives);
        }
    }
}
