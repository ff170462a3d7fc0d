package ai.fulgur.cuda;

import ai.fulgur.ops.Backend;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Storage;
import ai.fulgur.ops.activation.ActivationKernels;
import ai.fulgur.ops.attention.AttentionKernels;
import ai.fulgur.ops.cpu.CpuStorage;
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
 * The CUDA implementation of every kernel family. Found by {@link ai.fulgur.ops.Backends} through ServiceLoader;
 * {@link #isAvailable()} is false, with the reason, when there is no driver, no device or no built kernels.
 */
public final class CudaBackend implements Backend {
    private final CudaElementwise elementwise = new CudaElementwise();
    private final ReduceKernels reduce = new CudaReduce();
    private final CudaActivation activation = new CudaActivation();
    private final CudaLinalg linalg = new CudaLinalg(elementwise, activation);
    private final NormKernels norm = new CudaNorm();
    private final LossKernels loss = new CudaLoss();
    private final IndexingKernels indexing = new CudaIndexing();
    private final RandomKernels random = new CudaRandom();
    private final OptimKernels optim = new CudaOptim();
    private final AttentionKernels attention = new CudaAttention();
    private final PagedKvKernels pagedKv = new CudaPagedKv();

    @Override public Device.Kind kind() { return Device.Kind.CUDA; }
    @Override public boolean isAvailable() { return CudaDriver.isAvailable(); }
    @Override public String unavailableReason() { return CudaDriver.unavailableReason(); }
    @Override public int deviceCount() { return CudaDriver.deviceCount(); }

    /** The opened device behind {@code device}. */
    public static CudaDevice device(Device device) {
        if (device.kind() != Device.Kind.CUDA) {
            throw new IllegalArgumentException(device + " is not a CUDA device");
        }
        return CudaDriver.device(device.index());
    }

    /**
     * {@inheritDoc} No fill pass: the block holds what it last held. With {@code -Dfulgur.cuda.poisonUninitialized=true}
     * every byte is set to 0xFF instead (NaN in every floating type, -1 in the integers), so a kernel that leaves part
     * of such an output unwritten shows in the tests.
     */
    @Override
    public Storage allocateUninitialized(Device device, DType dtype, long length) {
        if (ZERO_UNINITIALIZED) {
            return allocate(device, dtype, length);
        }
        CudaDevice d = device(device);
        CudaStorage s = new CudaStorage(d, dtype, length);
        if (POISON_UNINITIALIZED) {
            d.enter();
            jcuda.driver.JCudaDriver.cuMemsetD8Async(s.pointer(0), (byte) 0xFF, length * dtype.byteSize(), d.stream());
        }
        return s;
    }

    private static final boolean POISON_UNINITIALIZED = Boolean.getBoolean("fulgur.cuda.poisonUninitialized");
    /** {@code -Dfulgur.cuda.zeroUninitialized=true}: zero-fill these too, as before (for before/after benchmarks). */
    private static final boolean ZERO_UNINITIALIZED = Boolean.getBoolean("fulgur.cuda.zeroUninitialized");

    @Override
    public Storage allocate(Device device, DType dtype, long length) {
        CudaDevice d = device(device);
        CudaStorage s = new CudaStorage(d, dtype, length);
        // zero-fill: the SPI promises zeros, and kernels that write only part of an output rely on it
        d.enter();
        boolean profiled = KernelProfiler.active;
        if (profiled) {
            if (KernelProfiler.wantsDetail()) {
                KernelProfiler.detail(dtype.name().toLowerCase(java.util.Locale.ROOT) + " n=" + length);
            }
            KernelProfiler.before(d, "memset (zero-fill of a new tensor)");
        }
        jcuda.driver.JCudaDriver.cuMemsetD8Async(s.pointer(0), (byte) 0, length * dtype.byteSize(), d.stream());
        if (profiled) {
            KernelProfiler.after(d);
        }
        return s;
    }

    @Override
    public Storage upload(CpuStorage src, Device device) {
        CudaDevice d = device(device);
        CudaStorage s = new CudaStorage(d, src.dtype(), src.length());
        d.copyToDevice(s.pointer(0), src.array(), src.byteSize());
        return s;
    }

    @Override
    public CpuStorage download(Storage src) {
        CudaStorage s = (CudaStorage) src;
        CpuStorage host = CpuStorage.allocate(s.dtype(), s.length());
        s.cudaDevice().copyToHost(host.array(), s.pointer(0), s.byteSize());
        return host;
    }

    @Override
    public ai.fulgur.ops.distributed.Communicator communicator(Device device, int rank, int size,
            ai.fulgur.ops.distributed.Rendezvous rendezvous) {
        return new NcclCommunicator(device, rank, size, rendezvous);
    }

    /** Records {@code work} into a CUDA graph; see {@link CudaGraph}. */
    @Override
    public ai.fulgur.ops.DeviceGraph captureGraph(Device device, Runnable work) {
        return CudaGraph.capture(device, work);
    }

    @Override public ElementwiseKernels elementwise() { return elementwise; }
    @Override public ReduceKernels reduce() { return reduce; }
    @Override public LinalgKernels linalg() { return linalg; }
    @Override public ActivationKernels activation() { return activation; }
    @Override public NormKernels norm() { return norm; }
    @Override public LossKernels loss() { return loss; }
    @Override public IndexingKernels indexing() { return indexing; }
    @Override public RandomKernels random() { return random; }
    @Override public OptimKernels optim() { return optim; }
    @Override public AttentionKernels attention() { return attention; }
    @Override public PagedKvKernels pagedKv() { return pagedKv; }
}
