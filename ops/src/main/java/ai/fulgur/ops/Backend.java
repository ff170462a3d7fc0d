package ai.fulgur.ops;

import ai.fulgur.ops.activation.ActivationKernels;
import ai.fulgur.ops.attention.AttentionKernels;
import ai.fulgur.ops.cpu.CpuStorage;
import ai.fulgur.ops.distributed.Communicator;
import ai.fulgur.ops.distributed.Rendezvous;
import ai.fulgur.ops.elementwise.ElementwiseKernels;
import ai.fulgur.ops.indexing.IndexingKernels;
import ai.fulgur.ops.kvcache.PagedKvKernels;
import ai.fulgur.ops.linalg.LinalgKernels;
import ai.fulgur.ops.loss.LossKernels;
import ai.fulgur.ops.norm.NormKernels;
import ai.fulgur.ops.optim.OptimKernels;
import ai.fulgur.ops.random.RandomKernels;
import ai.fulgur.ops.reduce.ReduceKernels;

/**
 * One implementation of every kernel family for one kind of device. The CPU backend (pure Java) is the reference;
 * the CUDA backend implements the same interfaces. Backends are found with {@link Backends}.
 *
 * <p>Kernels receive output tensors already allocated with the right shape and dtype, and inputs already checked by
 * the family's facade (for example {@link ai.fulgur.ops.linalg.Linalg}), so a kernel never validates user input.
 */
public interface Backend {

    /** The kind of device this backend runs on. */
    Device.Kind kind();

    /** Whether the backend can run here (a driver, a device, the kernels); see {@link #unavailableReason()}. */
    boolean isAvailable();

    /** Why the backend cannot run here, or an empty string if it can. */
    String unavailableReason();

    /** Number of devices of this kind. */
    int deviceCount();

    /** A zero-filled storage of {@code length} elements. */
    Storage allocate(Device device, DType dtype, long length);

    /**
     * A storage of {@code length} elements whose contents are unspecified, for an output every element of which is
     * written before it is read (a device backend saves the zero-fill pass). By default zero-filled, as
     * {@link #allocate}.
     */
    default Storage allocateUninitialized(Device device, DType dtype, long length) {
        return allocate(device, dtype, length);
    }

    /** Copies a host storage to a new storage on {@code device}. */
    Storage upload(CpuStorage src, Device device);

    /** Copies a storage of this backend to a new host storage. */
    CpuStorage download(Storage src);

    ElementwiseKernels elementwise();

    ReduceKernels reduce();

    LinalgKernels linalg();

    ActivationKernels activation();

    NormKernels norm();

    LossKernels loss();

    IndexingKernels indexing();

    RandomKernels random();

    OptimKernels optim();

    AttentionKernels attention();

    /** The paged KV cache kernels; a backend without them says so when asked. */
    default PagedKvKernels pagedKv() {
        throw new UnsupportedOperationException("the " + kind() + " backend has no paged KV cache kernels yet");
    }

    /**
     * Joins a group of {@code size} ranks (one process each, this one on {@code device}) for collective operations;
     * see {@link ai.fulgur.ops.distributed.Collectives#join}.
     */
    default Communicator communicator(Device device, int rank, int size, Rendezvous rendezvous) {
        throw new UnsupportedOperationException("the " + kind() + " backend has no collective operations");
    }

    /**
     * Records {@code work} (which must only queue device work: no host reads, no syncs) on {@code device} into a
     * {@link DeviceGraph} without running it. A backend without graphs says so; see {@link DeviceGraph}.
     */
    default DeviceGraph captureGraph(Device device, Runnable work) {
        throw new UnsupportedOperationException("the " + kind() + " backend cannot capture device graphs (CUDA "
                + "graphs need a CUDA device); run eagerly");
    }
}
