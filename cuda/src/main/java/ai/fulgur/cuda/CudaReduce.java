package ai.fulgur.cuda;

import ai.fulgur.ops.Tensor;

/** Placeholder until the CUDA kernels of this family land: every method says so instead of computing. */
final class CudaReduce implements ai.fulgur.ops.reduce.ReduceKernels {

    private static UnsupportedOperationException notBuilt(String kernel) {
        return new UnsupportedOperationException("the CUDA kernel for " + kernel + " is not implemented yet; "
                + "run this op on the CPU");
    }

    @Override
    public void reduce(ai.fulgur.ops.reduce.ReduceOp op, Tensor out, Tensor x, int[] axes) {
        throw notBuilt("reduce");
    }

    @Override
    public void argReduce(boolean max, Tensor out, Tensor x, int axis) {
        throw notBuilt("argReduce");
    }
}
