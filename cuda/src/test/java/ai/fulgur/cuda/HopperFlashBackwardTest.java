package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionKernels;
import ai.fulgur.ops.attention.AttentionSpec;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Hopper (wgmma) FlashAttention backward equals the CPU reference ({@link ai.fulgur.ops.cpu.CpuAttention}: F32
 * math on the same BF16/F16 inputs): dQ, dK and dV from the CPU's O and logsumexp, on fresh random inputs whose
 * lengths are not tile multiples ({@link HopperCase#all()}: 1, 63, 129, 200, 1000, 2049, 1023), causal with Nq &lt; Nk and Nq &gt; Nk, grouped-query
 * and multi-query heads, a softmax scale and strided (B, H, N, D) views; gradients poisoned with NaN before each run.
 * Each case first checks that the Hopper kernel is the one selected, so the comparison is about it; one case runs
 * again with {@code fulgur.flash.hopperBackward=false} on the mma.sync kernel. Skipped, with the reason printed, on
 * devices other than compute capability 9.0.
 */
class HopperFlashBackwardTest extends GpuTest {

    @BeforeAll
    static void requireHopper() {
        HopperCase.requireHopper("HopperFlashBackwardTest", "wgmma kernel");
    }

    private static AttentionKernels cpu() {
        return Backends.of(Device.CPU).attention();
    }

    private static String dtypeName(DType t) {
        return t == DType.BF16 ? "bf16" : "f16";
    }

    /** Runs one case on the CPU and on the GPU with the kernel {@code expected}, and compares the three gradients. */
    private static void check(HopperCase c, DType dtype, int d, SplittableRandom rnd, String expected) {
        AttentionSpec spec = c.spec(d);
        String what = c.name() + " " + dtype + " d" + d + " (" + expected + ")";
        Tensor q = HopperCase.input(rnd, dtype, c.b(), c.nq(), c.hq(), d, c.transposed());
        Tensor k = HopperCase.input(rnd, dtype, c.b(), c.nk(), c.hkv(), d, false);
        Tensor v = HopperCase.input(rnd, dtype, c.b(), c.nk(), c.hkv(), d, c.transposed());
        Tensor dout = HopperCase.input(rnd, dtype, c.b(), c.nq(), c.hq(), d, c.transposed());
        Tensor o = Tensor.zeros(q.shape(), dtype, Device.CPU);
        Tensor lse = Tensor.zeros(Shape.of(c.b(), c.hq(), c.nq()), DType.F32, Device.CPU);
        cpu().flashForward(o, lse, q, k, v, spec);
        Tensor dq = Tensor.zeros(q.shape(), dtype, Device.CPU);
        Tensor dk = Tensor.zeros(k.shape(), dtype, Device.CPU);
        Tensor dv = Tensor.zeros(k.shape(), dtype, Device.CPU);
        cpu().flashBackward(dq, dk, dv, dout, q, k, v, o, lse, spec);

        Tensor qg = q.to(GPU);
        assertEquals(expected, CudaAttention.backwardKernel(qg, spec), what + ": kernel selected");
        Tensor dqg = CudaTesting.poisoned(q.shape(), dtype);
        Tensor dkg = CudaTesting.poisoned(k.shape(), dtype);
        Tensor dvg = CudaTesting.poisoned(k.shape(), dtype);
        Backends.of(GPU).attention().flashBackward(dqg, dkg, dvg, dout.to(GPU), qg, k.to(GPU), v.to(GPU), o.to(GPU),
                lse.to(GPU), spec);
        assertGradient(what + " dq", dq, dqg);
        assertGradient(what + " dk", dk, dkg);
        assertGradient(what + " dv", dv, dvg);
    }

    /**
     * {@link CudaTesting#assertNear} with the backward's tolerance, except against a reference that is exactly zero
     * (a single key: dQ and dK vanish, P·(dP − D) is rounding only, and a relative error means nothing): then every
     * element must be within 1e-3 of zero (NaN fails).
     */
    private static void assertGradient(String what, Tensor cpu, Tensor gpu) {
        double[] e = cpu.cast(DType.F32).toDoubleArray();
        for (double x : e) {
            if (x != 0) {
                CudaTesting.assertNear(what, cpu, gpu, 2e-2);
                return;
            }
        }
        double[] a = gpu.to(Device.CPU).cast(DType.F32).toDoubleArray();
        for (int i = 0; i < a.length; i++) {
            if (!(Math.abs(a[i]) <= 1e-3)) {
                throw new AssertionError(what + ": mismatch at " + i + ": cpu 0 vs gpu " + a[i] + " (tolerance 1e-3)");
            }
        }
    }

    @Test
    void backwardMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(91);
        for (DType dtype : new DType[] {DType.BF16, DType.F16}) {
            for (int d : new int[] {64, 128}) {
                for (HopperCase c : HopperCase.all()) {
                    check(c, dtype, d, rnd, "flash_bwd_hopper_" + dtypeName(dtype) + "_d" + d);
                }
            }
        }
    }

    /** The property puts the same call back on the mma.sync kernel, which must agree with the CPU too. */
    @Test
    void propertyKeepsTheMmaSyncKernelReachable() {
        SplittableRandom rnd = new SplittableRandom(92);
        System.setProperty("fulgur.flash.hopperBackward", "false");
        try {
            for (int d : new int[] {64, 128}) {
                check(new HopperCase("2049 causal mqa", 1, 2049, 2049, 2, 1, true, 0, false), DType.BF16, d, rnd,
                        "flash_bwd_fused_bf16_d" + d);
            }
        } finally {
            System.clearProperty("fulgur.flash.hopperBackward");
        }
    }

    /** Options the wgmma kernel does not cover keep the mma.sync backward. */
    @Test
    void otherOptionsKeepTheMmaSyncKernels() {
        Tensor q = Tensor.zeros(Shape.of(1, 8, 2, 64), DType.BF16, GPU);
        assertEquals("flash_bwd_hopper_bf16_d64", CudaAttention.backwardKernel(q, AttentionSpec.causal(64)));
        assertEquals("flash_bwd_fused_bf16_d64_dropout",
                CudaAttention.backwardKernel(q, AttentionSpec.dense(64).withDropout(0.1, 1, 0)));
        assertEquals("flash_bwd_fused_bf16_d64", CudaAttention.backwardKernel(q, AttentionSpec.dense(64).withWindow(8, 8)));
        assertEquals("flash_bwd_dkdv_bf16_d64",
                CudaAttention.backwardKernel(q, AttentionSpec.causal(64).withDeterministic(true)));
    }
}
