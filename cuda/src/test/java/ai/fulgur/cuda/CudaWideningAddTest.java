package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Autocast's one-pass F32 + BF16 ops on the GPU ({@link Elementwise#addWidening}, the residual add, and
 * {@link Elementwise#accumulate}, a parameter gradient taking a BF16 contribution): equal to the F32 sum of the widened
 * values computed on the host in double (exact here: both round one F32 add), one contiguous kernel and no cast
 * kernel, for lengths with and without a tail of n % 4. The new output is uninitialised storage: run with
 * {@code -Dfulgur.cuda.poisonUninitialized=true} (as the gpu runs of this work do) and an unwritten element is NaN.
 */
class CudaWideningAddTest extends GpuTest {
    private static final long[] LENGTHS = {3, 4099, (1 << 20) + 5};

    @Test
    void addWideningIsOneContiguousKernelAndEqualsTheWidenedSum() {
        SplittableRandom rnd = new SplittableRandom(41);
        CudaDevice d = CudaBackend.device(GPU);
        for (long n : LENGTHS) {
            for (boolean halfFirst : new boolean[] {false, true}) {
                Tensor a = CudaTesting.random(rnd, DType.F32, -3, 3, n);
                Tensor h = CudaTesting.random(rnd, DType.BF16, -3, 3, n);
                Tensor want = widenedSum(a, h);
                Tensor ga = a.to(GPU);
                Tensor gh = h.to(GPU);
                KernelProfiler.start(d);
                Tensor out;
                KernelProfiler.Report report;
                try {
                    out = halfFirst ? Elementwise.addWidening(gh, ga) : Elementwise.addWidening(ga, gh);
                } finally {
                    report = KernelProfiler.stop();
                }
                String what = (halfFirst ? "bf16 + f32" : "f32 + bf16") + " n=" + n;
                assertEquals(DType.F32, out.dtype(), what);
                String kernel = halfFirst ? "binary_contiguous_f32_bf16_f32" : "binary_contiguous_f32_f32_bf16";
                assertEquals(1, report.row(kernel).calls(), what + ": " + report.rows());
                assertNull(report.row("cast_contiguous_f32_bf16"), what + " casts nothing: " + report.rows());
                CudaTesting.assertClose(what, want, out, 0);
            }
        }
    }

    @Test
    void accumulateAddsABf16ContributionToAnF32GradientInPlace() {
        SplittableRandom rnd = new SplittableRandom(42);
        CudaDevice d = CudaBackend.device(GPU);
        for (long n : LENGTHS) {
            Tensor grad = CudaTesting.random(rnd, DType.F32, -3, 3, n);
            Tensor g = CudaTesting.random(rnd, DType.BF16, -3, 3, n);
            Tensor want = widenedSum(grad, g);
            Tensor gpuGrad = grad.to(GPU);
            KernelProfiler.start(d);
            KernelProfiler.Report report;
            try {
                Elementwise.accumulate(gpuGrad, g.to(GPU));
            } finally {
                report = KernelProfiler.stop();
            }
            String what = "grad += g (f32 += bf16) n=" + n;
            assertEquals(1, report.row("binary_contiguous_f32_f32_bf16").calls(), what + ": " + report.rows());
            CudaTesting.assertClose(what, want, gpuGrad, 0);
        }
    }

    /** a + widen(h) per element, in double then rounded once to F32: what one F32 add of the two gives. */
    private static Tensor widenedSum(Tensor a, Tensor h) {
        double[] av = a.toDoubleArray();
        double[] hv = h.toDoubleArray();
        float[] s = new float[av.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = (float) (av[i] + hv[i]);
        }
        return Tensor.of(s, s.length).to(Device.CPU);
    }
}
