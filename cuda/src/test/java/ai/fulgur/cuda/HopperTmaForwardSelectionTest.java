package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionSpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * When the TMA forward replaces the cp.async Hopper forward (no GPU needed: the rule reads the inputs' dtype, shape and
 * strides, the options, the compute capability and the properties), the tile sizes and shared memory of its launch,
 * and the fallback when a tensor map cannot describe an input.
 */
class HopperTmaForwardSelectionTest {
    private static final long A = 0x7f00_0000_0000L;

    private static Tensor q(DType t, int d) {
        return q(t, 4, d);
    }

    private static Tensor q(DType t, long n, int d) {
        return Tensor.zeros(Shape.of(1, n, 2, d), t, Device.CPU);
    }

    @AfterEach
    void reset() {
        System.clearProperty("fulgur.flash.tma");
        System.clearProperty("fulgur.flash.hopper");
    }

    /** Unset, the property leaves the choice to the measurement: head dim 128 always, 64 only for long sequences. */
    @Test
    void defaultFollowsTheMeasurement() {
        assertEquals("flash_fwd_hopper_tma_bf16_d128",
                HopperTmaForward.select(q(DType.BF16, 128), AttentionSpec.causal(128), 90).kernelName());
        assertNull(HopperTmaForward.select(q(DType.BF16, 64), AttentionSpec.causal(64), 90), "d64, 4 queries");
        assertNull(HopperTmaForward.select(q(DType.BF16, 1000, 64), AttentionSpec.dense(64), 90), "d64 dense 1000");
        assertEquals("flash_fwd_hopper_tma_bf16_d64",
                HopperTmaForward.select(q(DType.BF16, 1024, 64), AttentionSpec.dense(64), 90).kernelName());
        assertNull(HopperTmaForward.select(q(DType.BF16, 2048, 64), AttentionSpec.causal(64), 90), "d64 causal 2048");
        assertEquals("flash_fwd_hopper_tma_f16_d64",
                HopperTmaForward.select(q(DType.F16, 4096, 64), AttentionSpec.causal(64), 90).kernelName());
        assertTrue(HopperTmaForward.onByDefault(128, 1, true));
        assertFalse(HopperTmaForward.onByDefault(64, 512, false));
        // forced on, the short d64 call takes it too
        System.setProperty("fulgur.flash.tma", "true");
        assertEquals("flash_fwd_hopper_tma_bf16_d64",
                HopperTmaForward.select(q(DType.BF16, 64), AttentionSpec.causal(64), 90).kernelName());
    }

    @Test
    void selectsWhatTheHopperForwardCovers() {
        System.setProperty("fulgur.flash.tma", "true");
        HopperTmaForward d64 = HopperTmaForward.select(q(DType.BF16, 64), AttentionSpec.causal(64), 90);
        assertEquals("flash_fwd_hopper_tma_bf16_d64", d64.kernelName());
        assertEquals(128, d64.keys());
        assertEquals(3, d64.stages());
        assertEquals((128 + 2 * 3 * 128) * 64 * 2 + 1024 + 8 * 13, d64.sharedBytes());
        HopperTmaForward d128 = HopperTmaForward.select(q(DType.F16, 128), AttentionSpec.dense(128).withScale(0.3), 90);
        assertEquals("flash_fwd_hopper_tma_f16_d128", d128.kernelName());
        assertEquals((128 + 2 * 2 * 128) * 128 * 2 + 1024 + 8 * 9, d128.sharedBytes());
        assertTrue(d128.sharedBytes() <= 227 * 1024, "fits Hopper's 227 KiB opt-in");

        assertNull(HopperTmaForward.select(q(DType.BF16, 64), AttentionSpec.dense(64), 80), "sm_80");
        assertNull(HopperTmaForward.select(q(DType.BF16, 96), AttentionSpec.dense(96), 90), "head dim 96");
        assertNull(HopperTmaForward.select(q(DType.F32, 64), AttentionSpec.dense(64), 90), "F32");
        assertNull(HopperTmaForward.select(q(DType.BF16, 64), AttentionSpec.dense(64).withDropout(0.1, 1, 0), 90),
                "dropout");
        assertNull(HopperTmaForward.select(q(DType.BF16, 64), AttentionSpec.causal(64).withWindow(16, 0), 90),
                "sliding window: the mma.sync kernels");
        assertNull(HopperTmaForward.select(q(DType.BF16, 64),
                AttentionSpec.causal(64).withKeyLengths(Tensor.of(new int[] {3}, 1)), 90), "key lengths");
    }

    @Test
    void propertiesTurnItOffOrAreRejected() {
        System.setProperty("fulgur.flash.tma", "false");
        assertNull(HopperTmaForward.select(q(DType.BF16, 128), AttentionSpec.dense(128), 90));
        System.setProperty("fulgur.flash.tma", "true");
        System.setProperty("fulgur.flash.hopper", "false");
        assertNull(HopperTmaForward.select(q(DType.BF16, 128), AttentionSpec.dense(128), 90), "hopper off: TMA off");
        System.clearProperty("fulgur.flash.hopper");
        System.setProperty("fulgur.flash.tma", "yes");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HopperTmaForward.select(q(DType.BF16, 64), AttentionSpec.dense(64), 90));
        assertTrue(e.getMessage().contains("fulgur.flash.tma") && e.getMessage().contains("'yes'"), e.getMessage());
    }

    @Test
    void inputsATensorMapCannotDescribeFallBack() {
        System.setProperty("fulgur.flash.tma", "true");
        HopperTmaForward f = HopperTmaForward.select(q(DType.BF16, 64), AttentionSpec.dense(64), 90);
        Tensor q = Tensor.zeros(Shape.of(2, 300, 4, 64), DType.BF16, Device.CPU);
        Tensor kv = Tensor.zeros(Shape.of(2, 300, 2, 64), DType.BF16, Device.CPU);
        assertTrue(f.describes(q, A, kv, A + 4096, kv, A + 8192));
        assertFalse(f.describes(q, A, kv, A + 8, kv, A + 8192), "k not 16-byte aligned");
        Tensor narrow = Tensor.zeros(Shape.of(2, 300, 2, 68), DType.BF16, Device.CPU).slice(3, 0, 64);
        assertFalse(f.describes(q, A, kv, A, narrow, A), "v heads 136 bytes apart");
    }
}
