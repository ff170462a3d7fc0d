package ai.fulgur.cuda;

import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.activation.ActivationKernels;
import ai.fulgur.ops.activation.GeluForm;

/**
 * Softmax, log-softmax and GELU on the GPU (softmax.cu, gelu.cu); F32, BF16 and F16 compute in float, F64 in double,
 * with {@link ai.fulgur.ops.cpu.CpuActivation}'s formulas.
 *
 * <p>Softmax rows of at most {@value CudaReduce#WARP_ROW_LIMIT} columns run one warp per row (8 rows per 256-thread
 * block, the row in registers; the entry point is picked by the lane count N = ⌈C/32⌉ rounded up to 1, 2, 4, 8, 12, 16,
 * 24 or 32); longer rows one block per row. GELU is a grid-stride loop over 16-byte packs when aligned.
 */
final class CudaActivation implements ActivationKernels {
    private static final String SOFTMAX = "softmax";
    private static final String GELU = "gelu";
    private static final int THREADS = CudaReduce.THREADS;

    // y (R, C), x (R, C)
    @Override
    public void softmaxForward(Tensor y, Tensor x, boolean log) {
        String suffix = CudaReduce.floatSuffix(x.dtype(), "softmaxForward");
        long[] rc = CudaReduce.rowsAndColumns("softmaxForward", x, y);
        long rows = rc[0];
        long c = rc[1];
        if (rows == 0 || c == 0) {
            return;
        }
        CudaDevice d = CudaTensors.device(x);
        if (c <= CudaReduce.WARP_ROW_LIMIT) {
            d.launch(SOFTMAX, "softmax_forward_warp" + CudaReduce.warpLanes(c) + "_" + suffix,
                    CudaReduce.checkGrid(Math.ceilDiv(rows, THREADS / 32), "softmaxForward"), THREADS, 0, rows,
                    (int) c, log ? 1 : 0, CudaTensors.first(y), CudaTensors.first(x));
        } else {
            d.launch(SOFTMAX, "softmax_forward_block_" + suffix, CudaReduce.checkGrid(rows, "softmaxForward"),
                    CudaReduce.rowBlockThreads(c), 0, rows, c, log ? 1 : 0, CudaTensors.first(y),
                    CudaTensors.first(x));
        }
    }

    // dx (R, C), y (R, C), dy (R, C)
    @Override
    public void softmaxBackward(Tensor dx, Tensor y, Tensor dy, boolean log) {
        String suffix = CudaReduce.floatSuffix(y.dtype(), "softmaxBackward");
        long[] rc = CudaReduce.rowsAndColumns("softmaxBackward", y, dy, dx);
        long rows = rc[0];
        long c = rc[1];
        if (rows == 0 || c == 0) {
            return;
        }
        CudaDevice d = CudaTensors.device(y);
        if (c <= CudaReduce.WARP_ROW_LIMIT) {
            d.launch(SOFTMAX, "softmax_backward_warp" + CudaReduce.warpLanes(c) + "_" + suffix,
                    CudaReduce.checkGrid(Math.ceilDiv(rows, THREADS / 32), "softmaxBackward"), THREADS, 0, rows,
                    (int) c, log ? 1 : 0, CudaTensors.first(dx), CudaTensors.first(y), CudaTensors.first(dy));
        } else {
            d.launch(SOFTMAX, "softmax_backward_block_" + suffix, CudaReduce.checkGrid(rows, "softmaxBackward"),
                    CudaReduce.rowBlockThreads(c), 0, rows, c, log ? 1 : 0, CudaTensors.first(dx),
                    CudaTensors.first(y), CudaTensors.first(dy));
        }
    }

    // y (any shape), x (y's shape)
    @Override
    public void geluForward(Tensor y, Tensor x, GeluForm form) {
        String suffix = CudaReduce.floatSuffix(x.dtype(), "geluForward");
        CudaReduce.rowsAndColumns("geluForward", x, y);
        long n = x.numel();
        if (n == 0) {
            return;
        }
        CudaDevice d = CudaTensors.device(x);
        long packs = Math.ceilDiv(n, 16 / x.dtype().byteSize());
        d.launch(GELU, "gelu_forward_" + suffix, CudaTensors.blocksFor(d, packs, THREADS), THREADS, 0, n,
                form.ordinal(), CudaTensors.first(y), CudaTensors.first(x));
    }

    // dx, x, dy (one shape)
    @Override
    public void geluBackward(Tensor dx, Tensor x, Tensor dy, GeluForm form) {
        String suffix = CudaReduce.floatSuffix(x.dtype(), "geluBackward");
        CudaReduce.rowsAndColumns("geluBackward", x, dy, dx);
        long n = x.numel();
        if (n == 0) {
            return;
        }
        CudaDevice d = CudaTensors.device(x);
        long packs = Math.ceilDiv(n, 16 / x.dtype().byteSize());
        d.launch(GELU, "gelu_backward_" + suffix, CudaTensors.blocksFor(d, packs, THREADS), THREADS, 0, n,
                form.ordinal(), CudaTensors.first(dx), CudaTensors.first(x), CudaTensors.first(dy));
    }
}
