package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.norm.NormKernels;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * layernorm_mixed.cu against the CPU kernels (F32 layer norm, then a cast of y; a widened dy, then the F32 backward) on
 * fresh random inputs, every output poisoned (NaN) first: y in BF16 and F16 within the half type's tolerance, mean,
 * rstd, dx, dgamma and dbeta in F32 within 1e-5; with and without gamma/beta; several row counts (one row, fewer rows
 * than a block's warps, more rows than the grid's warps). Rows the kernels do not take (C not a multiple of 4, longer
 * than 1024) fall back to the F32 kernels and a cast, and still match; the profiler shows which ran.
 */
class CudaLayerNormHalfTypesTest extends GpuTest {
    private static final long[] COLUMNS = {4, 100, 768, 1024, 102, 1028};
    private static final long[] ROWS = {1, 3, 8192};
    private static final double EPS = 1e-5;

    private static NormKernels cpu() {
        return Backends.of(Device.CPU).norm();
    }

    private static NormKernels gpu() {
        return Backends.of(GPU).norm();
    }

    private static boolean fused(long c) {
        return c % 4 == 0 && c <= 1024;
    }

    @Test
    void forwardWritesTheRoundedF32LayerNorm() {
        SplittableRandom rnd = new SplittableRandom(51);
        CudaDevice d = CudaBackend.device(GPU);
        for (DType half : new DType[] {DType.BF16, DType.F16}) {
            for (long c : COLUMNS) {
                for (long rows : ROWS) {
                    boolean affine = rows != 3;
                    Tensor x = CudaTesting.random(rnd, DType.F32, -1, 3, rows, c);
                    Tensor gamma = affine ? CudaTesting.random(rnd, DType.F32, 0.5, 1.5, c) : null;
                    Tensor beta = affine ? CudaTesting.random(rnd, DType.F32, -0.5, 0.5, c) : null;
                    Tensor y = Tensor.zeros(x.shape(), DType.F32, Device.CPU);
                    Tensor mean = Tensor.zeros(Shape.of(rows), DType.F32, Device.CPU);
                    Tensor rstd = Tensor.zeros(Shape.of(rows), DType.F32, Device.CPU);
                    cpu().layerNormForward(y, mean, rstd, x, gamma, beta, EPS);
                    Tensor yGpu = CudaTesting.poisoned(x.shape(), half);
                    Tensor meanGpu = CudaTesting.poisoned(Shape.of(rows), DType.F32);
                    Tensor rstdGpu = CudaTesting.poisoned(Shape.of(rows), DType.F32);
                    KernelProfiler.start(d);
                    KernelProfiler.Report report;
                    try {
                        gpu().layerNormForwardHalfOut(yGpu, meanGpu, rstdGpu, x.to(GPU), orNull(gamma), orNull(beta),
                                EPS);
                    } finally {
                        report = KernelProfiler.stop();
                    }
                    String what = "layerNormForwardHalfOut " + half + " (" + rows + ", " + c + ") affine " + affine;
                    String kernel = "layernorm_forward_half_out_" + (half == DType.BF16 ? "bf16" : "f16");
                    if (fused(c)) {
                        assertEquals(1, report.row(kernel).calls(), what + ": " + report.rows());
                    } else {
                        assertNull(report.row(kernel), what + " falls back: " + report.rows());
                    }
                    CudaTesting.assertClose(what + " y", y.cast(half), yGpu, CudaTesting.tolerance(half));
                    CudaTesting.assertClose(what + " mean", mean, meanGpu, 1e-5);
                    CudaTesting.assertClose(what + " rstd", rstd, rstdGpu, 1e-5);
                }
            }
        }
    }

    @Test
    void backwardFromAHalfGradientGivesTheF32Gradients() {
        SplittableRandom rnd = new SplittableRandom(52);
        CudaDevice d = CudaBackend.device(GPU);
        for (DType half : new DType[] {DType.BF16, DType.F16}) {
            for (long c : COLUMNS) {
                for (long rows : ROWS) {
                    boolean affine = rows != 3;
                    Tensor x = CudaTesting.random(rnd, DType.F32, -1, 3, rows, c);
                    Tensor gamma = affine ? CudaTesting.random(rnd, DType.F32, 0.5, 1.5, c) : null;
                    Tensor dy = CudaTesting.random(rnd, half, -1, 1, rows, c);
                    Tensor mean = Tensor.zeros(Shape.of(rows), DType.F32, Device.CPU);
                    Tensor rstd = Tensor.zeros(Shape.of(rows), DType.F32, Device.CPU);
                    cpu().layerNormForward(Tensor.zeros(x.shape(), DType.F32, Device.CPU), mean, rstd, x, gamma, null,
                            EPS);
                    Tensor dx = Tensor.zeros(x.shape(), DType.F32, Device.CPU);
                    Tensor dgamma = affine ? Tensor.zeros(Shape.of(c), DType.F32, Device.CPU) : null;
                    Tensor dbeta = affine ? Tensor.zeros(Shape.of(c), DType.F32, Device.CPU) : null;
                    cpu().layerNormBackward(dx, dgamma, dbeta, dy.cast(DType.F32), x, mean, rstd, gamma);
                    Tensor dxGpu = CudaTesting.poisoned(x.shape(), DType.F32);
                    Tensor dgammaGpu = affine ? CudaTesting.poisoned(Shape.of(c), DType.F32) : null;
                    Tensor dbetaGpu = affine ? CudaTesting.poisoned(Shape.of(c), DType.F32) : null;
                    KernelProfiler.start(d);
                    KernelProfiler.Report report;
                    try {
                        gpu().layerNormBackwardHalfDy(dxGpu, dgammaGpu, dbetaGpu, dy.to(GPU), x.to(GPU), mean.to(GPU),
                                rstd.to(GPU), orNull(gamma));
                    } finally {
                        report = KernelProfiler.stop();
                    }
                    String what = "layerNormBackwardHalfDy " + half + " (" + rows + ", " + c + ") affine " + affine;
                    String kernel = "layernorm_backward_half_dy_" + (half == DType.BF16 ? "bf16" : "f16");
                    if (fused(c)) {
                        assertEquals(1, report.row(kernel).calls(), what + ": " + report.rows());
                    } else {
                        assertNull(report.row(kernel), what + " falls back: " + report.rows());
                    }
                    CudaTesting.assertClose(what + " dx", dx, dxGpu, 1e-5);
                    if (affine) {
                        // sums over up to 8192 rows in another order: 1e-5 of the sum of magnitudes' scale
                        CudaTesting.assertNear(what + " dgamma", dgamma, dgammaGpu, 1e-5);
                        CudaTesting.assertNear(what + " dbeta", dbeta, dbetaGpu, 1e-5);
                    }
                }
            }
        }
    }

    private static Tensor orNull(Tensor t) {
        return t == null ? null : t.to(GPU);
    }
}
