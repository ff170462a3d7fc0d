package ai.fulgur.ops.cpu;

import ai.fulgur.ops.Backend;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Storage;
import ai.fulgur.ops.activation.ActivationKernels;
import ai.fulgur.ops.attention.AttentionKernels;
import ai.fulgur.ops.elementwise.ElementwiseKernels;
import ai.fulgur.ops.indexing.IndexingKernels;
import ai.fulgur.ops.kvcache.PagedKvKernels;
import ai.fulgur.ops.linalg.LinalgKernels;
import ai.fulgur.ops.loss.LossKernels;
import ai.fulgur.ops.norm.NormKernels;
import ai.fulgur.ops.optim.OptimKernels;
import ai.fulgur.ops.random.RandomKernels;
import ai.fulgur.ops.reduce.ReduceKernels;

/** The pure-Java backend: always available, one device, the reference every other backend is tested against. */
public final class CpuBackend implements Backend {
    private final ElementwiseKernels elementwise = new CpuElementwise();
    private final ReduceKernels reduce = new CpuReduce();
    private final LinalgKernels linalg = new CpuMatmul();
    private final ActivationKernels activation = new CpuActivation();
    private final NormKernels norm = new CpuNorm();
    private final LossKernels loss = new CpuLoss();
    private final IndexingKernels indexing = new CpuIndexing();
    private final RandomKernels random = new CpuRandom();
    private final OptimKernels optim = new CpuOptim();
    private final AttentionKernels attention = new CpuAttention();
    private final PagedKvKernels pagedKv = new CpuPagedKv();

    @Override public Device.Kind kind() { return Device.Kind.CPU; }
    @Override public boolean isAvailable() { return true; }
    @Override public String unavailableReason() { return ""; }
    @Override public int deviceCount() { return 1; }

    @Override
    public Storage allocate(Device device, DType dtype, long length) {
        return CpuStorage.allocate(dtype, length);
    }

    @Override
    public Storage upload(CpuStorage src, Device device) {
        return src;
    }

    @Override
    public CpuStorage download(Storage src) {
        return (CpuStorage) src;
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

    @Override
    public ai.fulgur.ops.distributed.Communicator communicator(Device device, int rank, int size,
            ai.fulgur.ops.distributed.Rendezvous rendezvous) {
        return new CpuCommunicator(rank, size, rendezvous);
    }
}
