package ai.fulgur.cuda;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.activation.ActivationKernels;
import ai.fulgur.ops.activation.GeluForm;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Softmax, log-softmax and GELU on the GPU equal the CPU kernels on fresh random inputs, outputs poisoned first: warp
 * kernels (every lane count), block kernels (aligned and misaligned rows), masked and all -inf rows.
 */
class CudaActivationTest extends GpuTest {
    private static final long[] COLUMNS = {1, 7, 32, 33, 113, 700, 1023, 1024, 1025, 4097};
    private static final long[] ROWS = {1, 7, 37};
    private static final DType[] DTYPES = {DType.F32, DType.BF16, DType.F16, DType.F64};

    private static ActivationKernels cpu() {
        return Backends.of(Device.CPU).activation();
    }

    private static ActivationKernels gpu() {
        return Backends.of(GPU).activation();
    }

    /** A device copy of host x starting one element into its storage, so 16-byte packs are misaligned. */
    private static Tensor misaligned(Tensor x) {
        long n = x.numel();
        Tensor padded = Tensor.zeros(Shape.of(n + 1), x.dtype(), GPU);
        Backends.of(GPU).elementwise().copy(padded.slice(0, 1, n + 1), x.reshape(n).to(GPU));
        return padded.slice(0, 1, n + 1).reshape(x.shape().dims());
    }

    private static void checkSoftmaxForward(Tensor x, Tensor xGpu, boolean log, String what) {
        Tensor expected = Tensor.zeros(x.shape(), x.dtype(), Device.CPU);
        cpu().softmaxForward(expected, x, log);
        Tensor actual = CudaTesting.poisoned(x.shape(), x.dtype());
        gpu().softmaxForward(actual, xGpu, log);
        CudaTesting.assertClose((log ? "logSoftmax " : "softmax ") + what, expected, actual,
                CudaTesting.tolerance(x.dtype()));
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void softmaxForwardMatchesCpu(boolean log) {
        SplittableRandom rnd = new SplittableRandom(log ? 1 : 2);
        for (DType dtype : DTYPES) {
            for (long c : COLUMNS) {
                for (long rows : ROWS) {
                    Tensor x = CudaTesting.random(rnd, dtype, -5, 5, rows, c);
                    String what = dtype + " (" + rows + ", " + c + ")";
                    checkSoftmaxForward(x, x.to(GPU), log, what);
                    if (c > 1024) {
                        checkSoftmaxForward(x, misaligned(x), log, what + " misaligned");
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void softmaxBackwardMatchesCpu(boolean log) {
        SplittableRandom rnd = new SplittableRandom(log ? 3 : 4);
        for (DType dtype : DTYPES) {
            for (long c : COLUMNS) {
                for (long rows : ROWS) {
                    Tensor x = CudaTesting.random(rnd, dtype, -5, 5, rows, c);
                    Tensor y = Tensor.zeros(x.shape(), dtype, Device.CPU);
                    cpu().softmaxForward(y, x, log);
                    Tensor dy = CudaTesting.random(rnd, dtype, -1, 1, rows, c);
                    Tensor expected = Tensor.zeros(x.shape(), dtype, Device.CPU);
                    cpu().softmaxBackward(expected, y, dy, log);
                    Tensor actual = CudaTesting.poisoned(x.shape(), dtype);
                    gpu().softmaxBackward(actual, y.to(GPU), dy.to(GPU), log);
                    String what = (log ? "logSoftmaxBackward " : "softmaxBackward ") + dtype + " (" + rows + ", " + c
                            + ")";
                    CudaTesting.assertClose(what, expected, actual, CudaTesting.tolerance(dtype));
                    if (c > 1024) {
                        Tensor again = CudaTesting.poisoned(x.shape(), dtype);
                        gpu().softmaxBackward(again, misaligned(y), dy.to(GPU), log);
                        CudaTesting.assertClose(what + " misaligned", expected, again, CudaTesting.tolerance(dtype));
                    }
                }
            }
        }
    }

    @Test
    void softmaxOfMaskedAndAllMinusInfinityRowsMatchesCpu() {
        for (long c : new long[] {100, 3000}) {
            double[] v = new double[(int) (4 * c)];
            SplittableRandom rnd = new SplittableRandom(c);
            for (int j = 0; j < c; j++) {
                v[j] = j % 3 == 0 ? rnd.nextDouble() : Double.NEGATIVE_INFINITY; // row 0: masked (causal-style)
                v[(int) c + j] = Double.NEGATIVE_INFINITY; // row 1: all -inf, NaN outputs as on the CPU
                v[(int) (2 * c) + j] = rnd.nextDouble() * 10 - 5; // row 2: plain
                v[(int) (3 * c) + j] = j == c / 2 ? Double.NaN : rnd.nextDouble(); // row 3: a NaN
            }
            for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
                Tensor x = Tensor.of(v, 4, c).cast(dtype);
                checkSoftmaxForward(x, x.to(GPU), false, dtype + " masked (4, " + c + ")");
                checkSoftmaxForward(x, x.to(GPU), true, dtype + " masked (4, " + c + ")");
            }
        }
    }

    // -----------------------------------------------------------------------------------------------------------------
    // GELU

    @ParameterizedTest
    @EnumSource(GeluForm.class)
    void geluForwardAndBackwardMatchCpu(GeluForm form) {
        SplittableRandom rnd = new SplittableRandom(40 + form.ordinal());
        for (DType dtype : DTYPES) {
            for (long n : new long[] {1, 7, 113, 1023, 4097, 100003}) {
                Tensor x = CudaTesting.random(rnd, dtype, -6, 6, n);
                Tensor dy = CudaTesting.random(rnd, dtype, -1, 1, n);
                Tensor y = Tensor.zeros(x.shape(), dtype, Device.CPU);
                cpu().geluForward(y, x, form);
                Tensor dx = Tensor.zeros(x.shape(), dtype, Device.CPU);
                cpu().geluBackward(dx, x, dy, form);
                double tol = CudaTesting.tolerance(dtype);
                for (boolean aligned : new boolean[] {true, false}) {
                    Tensor xGpu = aligned ? x.to(GPU) : misaligned(x);
                    String what = form + " " + dtype + " n=" + n + (aligned ? "" : " misaligned");
                    Tensor yGpu = CudaTesting.poisoned(x.shape(), dtype);
                    gpu().geluForward(yGpu, xGpu, form);
                    CudaTesting.assertClose("geluForward " + what, y, yGpu, tol);
                    Tensor dxGpu = CudaTesting.poisoned(x.shape(), dtype);
                    gpu().geluBackward(dxGpu, xGpu, dy.to(GPU), form);
                    CudaTesting.assertClose("geluBackward " + what, dx, dxGpu, tol);
                }
            }
        }
    }

    @Test
    void geluOfAMultiDimensionalTensorMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(50);
        Tensor x = CudaTesting.random(rnd, DType.BF16, -4, 4, 3, 113, 65);
        for (GeluForm form : GeluForm.values()) {
            Tensor y = Tensor.zeros(x.shape(), DType.BF16, Device.CPU);
            cpu().geluForward(y, x, form);
            Tensor yGpu = CudaTesting.poisoned(x.shape(), DType.BF16);
            gpu().geluForward(yGpu, x.to(GPU), form);
            CudaTesting.assertClose("geluForward " + form + " (3, 113, 65)", y, yGpu, CudaTesting.tolerance(DType.BF16));
        }
    }
}
