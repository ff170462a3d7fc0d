package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionSpec;
import java.util.SplittableRandom;
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

    @BeforeAll
    static void requireHopper() {
        HopperCase.requireHopper("HopperFlashForwardTest", "wgmma kernel");
    }

    @org.junit.jupiter.api.BeforeEach
    void cpAsyncKernel() {
        System.setProperty("fulgur.flash.tma", "false");
    }

    @org.junit.jupiter.api.AfterEach
    void reset() {
        System.clearProperty("fulgur.flash.tma");
    }

    @Test
    void forwardMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(90);
        for (DType dtype : new DType[] {DType.BF16, DType.F16}) {
            for (int d : new int[] {64, 128}) {
                for (HopperCase c : HopperCase.all()) {
                    AttentionSpec spec = c.spec(d);
                    String what = c.name() + " " + dtype + " d" + d;
                    Tensor q = HopperCase.input(rnd, dtype, c.b(), c.nq(), c.hq(), d, c.transposed());
                    Tensor k = HopperCase.input(rnd, dtype, c.b(), c.nk(), c.hkv(), d, false);
                    Tensor v = HopperCase.input(rnd, dtype, c.b(), c.nk(), c.hkv(), d, c.transposed());
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
