package ai.fulgur.cuda;

import ai.fulgur.ops.Tensor;

/** Placeholder until the CUDA kernels of this family land: every method says so instead of computing. */
final class CudaIndexing implements ai.fulgur.ops.indexing.IndexingKernels {

    private static UnsupportedOperationException notBuilt(String kernel) {
        return new UnsupportedOperationException("the CUDA kernel for " + kernel + " is not implemented yet; "
                + "run this op on the CPU");
    }

    @Override
    public void indexSelect(Tensor out, Tensor x, Tensor index, int axis) {
        throw notBuilt("indexSelect");
    }

    @Override
    public void indexAdd(Tensor dx, Tensor src, Tensor index, int axis) {
        throw notBuilt("indexAdd");
    }

    @Override
    public void gather(Tensor out, Tensor x, Tensor index, int axis) {
        throw notBuilt("gather");
    }

    @Override
    public void scatterAdd(Tensor dx, Tensor src, Tensor index, int axis) {
        throw notBuilt("scatterAdd");
    }
}
