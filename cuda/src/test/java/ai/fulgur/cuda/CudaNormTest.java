package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.norm.NormKernels;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Layer norm on the GPU equals the CPU kernel on fresh random inputs, outputs poisoned first: warp kernels (every lane
 * count), block kernels (aligned and not), with and without gamma/beta, and deterministic dgamma/dbeta.
 */
class CudaNormTest extends GpuTest {
    private static final long[] COLUMNS = {1, 7, 113, 512, 513, 768, 1023, 1024, 1025, 4097};
    private static final long[] ROWS = {1, 7, 300};
    private static final DType[] DTYPES = {DType.F32, DType.BF16, DType.F16, DType.F64};
    private static final double EPS = 1e-5;

    private static NormKernels cpu() {
        return Backends.of(Device.CPU).norm();
    }

    private static NormKernels gpu() {
        return Backends.of(GPU).norm();
    }

    private static DType statType(DType x) {
        return x.isHalf() ? DType.F32 : x;
    }

    private static Tensor gpuOrNull(Tensor t) {
        return t == null ? null : t.to(GPU);
    }

    @Test
    void forwardMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(1);
        for (DType dtype : DTYPES) {
            DType stat = statType(dtype);
            for (long c : COLUMNS) {
                for (long rows : ROWS) {
                    for (int affine = 0; affine < 3; affine++) { // none, gamma only, gamma and beta
                        Tensor x = CudaTesting.random(rnd, dtype, -1, 3, rows, c);
                        Tensor gamma = affine >= 1 ? CudaTesting.random(rnd, dtype, 0.5, 1.5, c) : null;
                        Tensor beta = affine == 2 ? CudaTesting.random(rnd, dtype, -0.5, 0.5, c) : null;
                        Tensor y = Tensor.zeros(x.shape(), dtype, Device.CPU);
                        Tensor mean = Tensor.zeros(Shape.of(rows), stat, Device.CPU);
                        Tensor rstd = Tensor.zeros(Shape.of(rows), stat, Device.CPU);
                        cpu().layerNormForward(y, mean, rstd, x, gamma, beta, EPS);
                        Tensor yGpu = CudaTesting.poisoned(x.shape(), dtype);
                        Tensor meanGpu = CudaTesting.poisoned(Shape.of(rows), stat);
                        Tensor rstdGpu = CudaTesting.poisoned(Shape.of(rows), stat);
                        gpu().layerNormForward(yGpu, meanGpu, rstdGpu, x.to(GPU), gpuOrNull(gamma), gpuOrNull(beta),
                                EPS);
                        String what = "layerNormForward " + dtype + " (" + rows + ", " + c + ") affine " + affine;
                        CudaTesting.assertClose(what + " y", y, yGpu, CudaTesting.tolerance(dtype));
                        CudaTesting.assertClose(what + " mean", mean, meanGpu, CudaTesting.tolerance(stat));
                        CudaTesting.assertClose(what + " rstd", rstd, rstdGpu, CudaTesting.tolerance(stat));
                    }
                }
            }
        }
    }

    @Test
    void forwardOfMisalignedRowsMatchesCpu() {
        // an odd-sized storage offset: the block kernel's scalar path
        SplittableRandom rnd = new SplittableRandom(2);
        for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
            long rows = 5;
            long c = 4096;
            Tensor x = CudaTesting.random(rnd, dtype, -1, 3, rows, c);
            Tensor gamma = CudaTesting.random(rnd, dtype, 0.5, 1.5, c);
            Tensor beta = CudaTesting.random(rnd, dtype, -0.5, 0.5, c);
            Tensor y = Tensor.zeros(x.shape(), dtype, Device.CPU);
            Tensor mean = Tensor.zeros(Shape.of(rows), statType(dtype), Device.CPU);
            Tensor rstd = Tensor.zeros(Shape.of(rows), statType(dtype), Device.CPU);
            cpu().layerNormForward(y, mean, rstd, x, gamma, beta, EPS);
            Tensor padded = Tensor.zeros(Shape.of(rows * c + 1), dtype, GPU);
            Backends.of(GPU).elementwise().copy(padded.slice(0, 1, rows * c + 1), x.reshape(rows * c).to(GPU));
            Tensor xGpu = padded.slice(0, 1, rows * c + 1).reshape(rows, c);
            Tensor yGpu = CudaTesting.poisoned(x.shape(), dtype);
            Tensor meanGpu = CudaTesting.poisoned(Shape.of(rows), statType(dtype));
            Tensor rstdGpu = CudaTesting.poisoned(Shape.of(rows), statType(dtype));
            gpu().layerNormForward(yGpu, meanGpu, rstdGpu, xGpu, gamma.to(GPU), beta.to(GPU), EPS);
            CudaTesting.assertClose("layerNormForward misaligned " + dtype, y, yGpu, CudaTesting.tolerance(dtype));
        }
    }

    @Test
    void backwardMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (DType dtype : DTYPES) {
            for (long c : COLUMNS) {
                for (long rows : ROWS) {
                    for (int variant = 0; variant < 3; variant++) { // gamma and grads, no gamma with grads, no grads
                        checkBackward(rnd, dtype, rows, c, variant == 0, variant < 2);
                    }
                }
            }
        }
    }

    @Test
    void warpKernelsOnBothPathsAndManyRowsMatchCpu() {
        // the 16-byte-pack kernels (two rows a warp forward for BF16/F16, double-buffered rows backward) at GPT-2's
        // 16384 (+1, so a warp's second row is missing at the end) rows, lane counts whose packs do not divide them
        // (256, 384), and the element-by-element kernels that an odd storage offset selects
        SplittableRandom rnd = new SplittableRandom(5);
        long[][] shapes = {{16385, 768}, {2049, 256}, {2049, 384}, {1001, 1024}, {999, 1000}, {33, 64}};
        for (DType dtype : new DType[] {DType.BF16, DType.F16, DType.F32}) {
            for (long[] s : shapes) {
                for (long offset : new long[] {0, 1}) {
                    if (offset == 1 && s[0] > 4096) {
                        continue;
                    }
                    checkForwardAndBackward(rnd, dtype, s[0], s[1], offset);
                }
            }
        }
    }

    @Test
    void vectorisedHalfBackwardOnFullAndPartialRowsMatchesCpu() {
        // the BF16/F16 16-byte-pack backward on full rows (768, 512: every lane's packs inside the row, the *_full_*
        // kernels) and rows whose packs do not fill the lanes (700, 384), row counts that leave warps without a row or
        // with one row more than others, with and without gamma and grads
        SplittableRandom rnd = new SplittableRandom(6);
        long[][] shapes = {{16385, 768}, {301, 768}, {2049, 512}, {1001, 384}, {777, 700}, {5, 768}};
        for (DType dtype : new DType[] {DType.BF16, DType.F16}) {
            for (long[] s : shapes) {
                for (int variant = 0; variant < 3; variant++) { // gamma and grads, no gamma with grads, no grads
                    if (variant > 0 && s[0] > 4096) {
                        continue;
                    }
                    checkBackward(rnd, dtype, s[0], s[1], variant == 0, variant < 2);
                }
            }
        }
    }

    @Test
    void fullRowsAreThoseWhosePacksFillEveryLane() {
        assertTrue(CudaNorm.fullRows(DType.BF16, 24, 768) && CudaNorm.fullRows(DType.F32, 24, 768));
        assertTrue(CudaNorm.fullRows(DType.BF16, 32, 1024) && CudaNorm.fullRows(DType.F64, 16, 512));
        assertFalse(CudaNorm.fullRows(DType.BF16, 12, 384) || CudaNorm.fullRows(DType.BF16, 24, 700));
        assertFalse(CudaNorm.fullRows(DType.F32, 24, 764));
    }

    /** The backward against the CPU, outputs poisoned; {@code grads}: dgamma and dbeta asked for, else neither. */
    private static void checkBackward(SplittableRandom rnd, DType dtype, long rows, long c, boolean withGamma,
            boolean grads) {
        checkBackward(rnd, dtype, rows, c, withGamma, grads, grads);
    }

    /** The backward against the CPU, outputs poisoned, asking for dgamma and dbeta as given. */
    private static void checkBackward(SplittableRandom rnd, DType dtype, long rows, long c, boolean withGamma,
            boolean wantDgamma, boolean wantDbeta) {
        DType stat = statType(dtype);
        Tensor x = CudaTesting.random(rnd, dtype, -1, 3, rows, c);
        Tensor dy = CudaTesting.random(rnd, dtype, -1, 1, rows, c);
        Tensor gamma = withGamma ? CudaTesting.random(rnd, dtype, 0.5, 1.5, c) : null;
        Tensor mean = Tensor.zeros(Shape.of(rows), stat, Device.CPU);
        Tensor rstd = Tensor.zeros(Shape.of(rows), stat, Device.CPU);
        cpu().layerNormForward(Tensor.zeros(x.shape(), dtype, Device.CPU), mean, rstd, x, gamma, null, EPS);
        Tensor dx = Tensor.zeros(x.shape(), dtype, Device.CPU);
        Tensor dgamma = wantDgamma ? Tensor.zeros(Shape.of(c), dtype, Device.CPU) : null;
        Tensor dbeta = wantDbeta ? Tensor.zeros(Shape.of(c), dtype, Device.CPU) : null;
        cpu().layerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma);
        Tensor dxGpu = CudaTesting.poisoned(x.shape(), dtype);
        Tensor dgammaGpu = wantDgamma ? CudaTesting.poisoned(Shape.of(c), dtype) : null;
        Tensor dbetaGpu = wantDbeta ? CudaTesting.poisoned(Shape.of(c), dtype) : null;
        gpu().layerNormBackward(dxGpu, dgammaGpu, dbetaGpu, dy.to(GPU), x.to(GPU), mean.to(GPU), rstd.to(GPU),
                gpuOrNull(gamma));
        String what = "layerNormBackward " + dtype + " (" + rows + ", " + c + ") gamma " + withGamma + " dgamma "
                + wantDgamma + " dbeta " + wantDbeta;
        double tol = CudaTesting.tolerance(dtype);
        CudaTesting.assertClose(what + " dx", dx, dxGpu, tol);
        if (wantDgamma) {
            CudaTesting.assertClose(what + " dgamma", dgamma, dgammaGpu, tol);
        }
        if (wantDbeta) {
            CudaTesting.assertClose(what + " dbeta", dbeta, dbetaGpu, tol);
        }
    }

    /** Forward and backward (with gamma, beta, dgamma, dbeta) against the CPU, x and dy at a storage offset. */
    private static void checkForwardAndBackward(SplittableRandom rnd, DType dtype, long rows, long c, long offset) {
        DType stat = statType(dtype);
        Tensor x = CudaTesting.random(rnd, dtype, -1, 3, rows, c);
        Tensor dy = CudaTesting.random(rnd, dtype, -1, 1, rows, c);
        Tensor gamma = CudaTesting.random(rnd, dtype, 0.5, 1.5, c);
        Tensor beta = CudaTesting.random(rnd, dtype, -0.5, 0.5, c);
        Tensor y = Tensor.zeros(x.shape(), dtype, Device.CPU);
        Tensor mean = Tensor.zeros(Shape.of(rows), stat, Device.CPU);
        Tensor rstd = Tensor.zeros(Shape.of(rows), stat, Device.CPU);
        cpu().layerNormForward(y, mean, rstd, x, gamma, beta, EPS);
        Tensor dx = Tensor.zeros(x.shape(), dtype, Device.CPU);
        Tensor dgamma = Tensor.zeros(Shape.of(c), dtype, Device.CPU);
        Tensor dbeta = Tensor.zeros(Shape.of(c), dtype, Device.CPU);
        cpu().layerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma);

        Tensor xGpu = atOffset(x, offset);
        Tensor dyGpu = atOffset(dy, offset);
        Tensor yGpu = CudaTesting.poisoned(x.shape(), dtype);
        Tensor meanGpu = CudaTesting.poisoned(Shape.of(rows), stat);
        Tensor rstdGpu = CudaTesting.poisoned(Shape.of(rows), stat);
        gpu().layerNormForward(yGpu, meanGpu, rstdGpu, xGpu, gamma.to(GPU), beta.to(GPU), EPS);
        String what = dtype + " (" + rows + ", " + c + ") offset " + offset;
        double tol = CudaTesting.tolerance(dtype);
        CudaTesting.assertClose("layerNormForward " + what + " y", y, yGpu, tol);
        CudaTesting.assertClose("layerNormForward " + what + " mean", mean, meanGpu, CudaTesting.tolerance(stat));
        CudaTesting.assertClose("layerNormForward " + what + " rstd", rstd, rstdGpu, CudaTesting.tolerance(stat));
        Tensor dxGpu = CudaTesting.poisoned(x.shape(), dtype);
        Tensor dgammaGpu = CudaTesting.poisoned(Shape.of(c), dtype);
        Tensor dbetaGpu = CudaTesting.poisoned(Shape.of(c), dtype);
        gpu().layerNormBackward(dxGpu, dgammaGpu, dbetaGpu, dyGpu, xGpu, mean.to(GPU), rstd.to(GPU), gamma.to(GPU));
        CudaTesting.assertClose("layerNormBackward " + what + " dx", dx, dxGpu, tol);
        CudaTesting.assertClose("layerNormBackward " + what + " dgamma", dgamma, dgammaGpu, tol);
        CudaTesting.assertClose("layerNormBackward " + what + " dbeta", dbeta, dbetaGpu, tol);
    }

    /** {@code t} on the GPU, {@code offset} elements into a larger storage (offset 1: not 16-byte aligned). */
    private static Tensor atOffset(Tensor t, long offset) {
        if (offset == 0) {
            return t.to(GPU);
        }
        long n = t.numel();
        Tensor padded = Tensor.zeros(Shape.of(n + offset), t.dtype(), GPU);
        Backends.of(GPU).elementwise().copy(padded.slice(0, offset, n + offset), t.reshape(n).to(GPU));
        return padded.slice(0, offset, n + offset).reshape(t.shape());
    }

    @Test
    void parameterGradientsAreDeterministic() {
        SplittableRandom rnd = new SplittableRandom(4);
        for (long c : new long[] {768, 4097}) {
            long rows = 4096;
            Tensor x = CudaTesting.random(rnd, DType.F32, -1, 3, rows, c).to(GPU);
            Tensor dy = CudaTesting.random(rnd, DType.F32, -1, 1, rows, c).to(GPU);
            Tensor gamma = CudaTesting.random(rnd, DType.F32, 0.5, 1.5, c).to(GPU);
            Tensor mean = CudaTesting.poisoned(Shape.of(rows), DType.F32);
            Tensor rstd = CudaTesting.poisoned(Shape.of(rows), DType.F32);
            gpu().layerNormForward(CudaTesting.poisoned(x.shape(), DType.F32), mean, rstd, x, gamma, null, EPS);
            double[][] first = backward(dy, x, mean, rstd, gamma);
            double[][] second = backward(dy, x, mean, rstd, gamma);
            for (int k = 0; k < first.length; k++) {
                assertArrayEquals(first[k], second[k], "C = " + c + ", output " + k);
            }
        }
    }

    @Test
    void eitherParameterGradientAloneMatchesCpu() {
        // dgamma without dbeta and the other way round: the finishing kernel writes only the output asked for, the
        // warp kernel (768, 1000 columns: the vectorised and the element path) and the block kernel (5000)
        SplittableRandom rnd = new SplittableRandom(8);
        long[][] shapes = {{16385, 768}, {1000, 768}, {300, 1000}, {40, 5000}};
        for (DType dtype : new DType[] {DType.BF16, DType.F32}) {
            for (long[] s : shapes) {
                for (boolean wantDgamma : new boolean[] {true, false}) {
                    checkBackward(rnd, dtype, s[0], s[1], true, wantDgamma, !wantDgamma);
                }
            }
        }
    }

    private static double[][] backward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor gamma) {
        long c = x.shape().last();
        Tensor dx = CudaTesting.poisoned(x.shape(), x.dtype());
        Tensor dgamma = CudaTesting.poisoned(Shape.of(c), x.dtype());
        Tensor dbeta = CudaTesting.poisoned(Shape.of(c), x.dtype());
        gpu().layerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma);
        return new double[][] {dx.toDoubleArray(), dgamma.toDoubleArray(), dbeta.toDoubleArray()};
    }
}
