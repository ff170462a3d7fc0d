package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.linalg.LinalgKernels;
import java.util.concurrent.ConcurrentHashMap;

/** Matrix products on the GPU through cuBLASLt (F32, BF16, F16 with F32 accumulation). */
final class CudaLinalg implements LinalgKernels {
    private final ConcurrentHashMap<Integer, CudaStorage> workspaces = new ConcurrentHashMap<>();

    /** A cuBLASLt workspace per device, kept for the life of the process. */
    long workspace(CudaDevice device) {
        return workspaces.computeIfAbsent(device.index(),
                i -> new CudaStorage(device, DType.U8, CublasLt.WORKSPACE_BYTES)).address(0);
    }

    @Override
    public void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, double alpha,
            boolean accumulate) {
        if (out.dtype() == DType.F64) {
            throw new UnsupportedOperationException("F64 matmul is not supported on CUDA devices; use F32, BF16 or "
                    + "F16 there (the CPU backend computes F64)");
        }
        CudaDevice d = CudaTensors.device(out);
        long batch = out.shape().dim(0);
        long m = out.shape().dim(1);
        long n = out.shape().dim(2);
        long k = transA ? a.shape().dim(1) : a.shape().dim(2);
        long strideA = a.shape().dim(0) == 1 ? 0 : a.stride(0);
        long strideB = b.shape().dim(0) == 1 ? 0 : b.stride(0);
        CublasLt.get().matmul(d, out.dtype(), batch, m, n, k, CudaTensors.first(a), strideA, transA,
                CudaTensors.first(b), strideB, transB, CudaTensors.first(out), (float) alpha, accumulate ? 1f : 0f, 0,
                CublasLt.EPILOGUE_DEFAULT, workspace(d));
    }
}
