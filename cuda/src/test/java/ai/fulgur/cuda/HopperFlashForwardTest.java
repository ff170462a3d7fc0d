package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Hopper (wgmma) FlashAttention forward equals the CPU reference ({@link ai.fulgur.ops.cpu.CpuAttention}: F32
 * math on the same BF16/F16 inputs), O and logsumexp, on fresh random inputs whose lengths are not tile multiples
 * (1, 63, 200, 1000, 2049), causal with Nq &lt; Nk and Nq &gt; Nk, grouped-query and multi-query heads, a softmax
 * scale and a strided (B, H, N, D) view; outputs poisoned with NaN before each run. Each case first checks that the
 * Hopper kernel is the one selected, so the comparison is about it ({@code fulgur.flash.tma=false} keeps the TMA
 * forward, {@link HopperTmaForwardTest}'s subject, out of the way). Skipped, with the reason printed, on devices
 * other than compute capability 9.0.
 */
class HopperFlashForwardTest extends GpuTest {

    private record Case(String name, int b, int nq, int nk, int hq, int hkv, boolean causal, double scale,
            boolean transposed) {}

    @BeforeAll
    static void requireHopper() {
        int cc = CudaBackend.device(GPU).computeCapability();
        if (cc != 90) {
            System.out.println("[gpu] HopperFlashForwardTest skipped: the device is sm_" + cc + ", the wgmma kernel "
                    + "needs sm_90 (H100/H200)");
        }
        Assumptions.assumeTrue(cc == 90, () -> "device is sm_" + cc + ", not sm_90");
    }

    @org.junit.jupiter.api.BeforeEach
    void cpAsyncKernel() {
        System.setProperty("fulgur.flash.tma", "false");
    }

    @org.junit.jupiter.api.AfterEach
    void reset() {
        System.clearProperty("fulgur.flash.tma");
    }

    private static List<Case> cases() {
        List<Case> c = new ArrayList<>();
        c.add(new Case("one row", 1, 1, 1, 2, 2, false, 0, false));
        c.add(new Case("63", 2, 63, 63, 2, 2, false, 0, false));
        c.add(new Case("200 causal", 2, 200, 200, 4, 4, true, 0, false));
        c.add(new Case("1000 gqa", 1, 1000, 1000, 8, 2, false, 0, false));
        c.add(new Case("2049 causal mqa", 1, 2049, 2049, 2, 1, true, 0, false));
        c.add(new Case("causal nq < nk gqa", 2, 77, 300, 4, 2, true, 0, false));
        c.add(new Case("causal nq > nk", 1, 300, 113, 2, 2, true, 0, false));
        c.add(new Case("causal one query", 1, 1, 700, 2, 2, true, 0, false));
        c.add(new Case("scale", 1, 129, 1023, 2, 2, false, 0.3, false));
        c.add(new Case("(B, H, N, D) view", 2, 113, 150, 2, 2, false, 0, true));
        return c;
    }

    private static Tensor input(SplittableRandom rnd, DType dtype, long b, long n, long h, long d, boolean transposed) {
        if (transposed) {
            return CudaTesting.random(rnd, dtype, -1, 1, b, h, n, d).transpose(1, 2);
        }
        return CudaTesting.random(rnd, dtype, -1, 1, b, n, h, d);
    }

    @Test
    void forwardMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(90);
        for (DType dtype : new DType[] {DType.BF16, DType.F16}) {
            for (int d : new int[] {64, 128}) {
                for (Case c : cases()) {
                    AttentionSpec spec = c.causal() ? AttentionSpec.causal(d) : AttentionSpec.dense(d);
                    if (c.scale() > 0) {
                        spec = spec.withScale(c.scale());
                    }
                    String what = c.name() + " " + dtype + " d" + d;
                    Tensor q = input(rnd, dtype, c.b(), c.nq(), c.hq(), d, c.transposed());
                    Tensor k = input(rnd, dtype, c.b(), c.nk(), c.hkv(), d, false);
                    Tensor v = input(rnd, dtype, c.b(), c.nk(), c.hkv(), d, c.transposed());
                    Shape lseShape = Shape.of(c.b(), c.hq(), c.nq());
                    Tensor o = Tensor.zeros(q.shape(), dtype, Device.CPU);
                    Tensor lse = Tensor.zeros(lseShape, DType.F32, Device.CPU);
                    Backends.of(Device.CPU).attention().flashForward(o, lse, q, k, v, spec);

                    Tensor qg = q.to(GPU);
                    assertEquals("flash_fwd_hopper_" + (dtype == DType.BF16 ? "bf16" : "f16") + "_d" + d,
                            CudaAttention.forwardKernel(qg, spec), what + ": kernel selected");
                    Tensor og = CudaTesting.poisoned(q.shape(), dtype);
                    Tensor lseg = CudaTesting.poisoned(lseShape, DType.F32);
                    Backends.of(GPU).attention().flashForward(og, lseg, qg, k.to(GPU), v.to(GPU), spec);
                    CudaTesting.assertNear(what + " o", o, og, 1e-2);
                    CudaTesting.assertNear(what + " lse", lse, lseg, 1e-4);
                }
            }
        }
    }

    /** Options the wgmma kernel does not cover keep the mma.sync forward, and the property turns it off. */
    @Test
    void otherOptionsKeepTheMmaSyncKernel() {
        Tensor q = Tensor.zeros(Shape.of(1, 8, 2, 64), DType.BF16, GPU);
        assertEquals("flash_fwd_bf16_d64_dropout",
                CudaAttention.forwardKernel(q, AttentionSpec.dense(64).withDropout(0.1, 1, 0)));
        assertEquals("flash_fwd_bf16_d64", CudaAttention.forwardKernel(q, AttentionSpec.dense(64).withWindow(8, 8)));
        assertEquals("flash_fwd_hopper_bf16_d64", CudaAttention.forwardKernel(q, AttentionSpec.causal(64)));
        System.setProperty("fulgur.flash.hopper", "false");
        try {
            assertEquals("flash_fwd_bf16_d64", CudaAttention.forwardKernel(q, AttentionSpec.causal(64)));
        } finally {
            System.clearProperty("fulgur.flash.hopper");
        }
    }
}
