package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionSpec;
import org.junit.jupiter.api.Test;

/**
 * When the Hopper backward replaces the mma.sync one (no GPU needed: the rule reads only the inputs' dtype and shape,
 * the options and the compute capability), and the tile sizes its launch uses.
 */
class HopperFlashBackwardSelectionTest {
    private static Tensor q(DType t, int d) {
        return Tensor.zeros(Shape.of(1, 4, 2, d), t, Device.CPU);
    }

    @Test
    void selectsOnlySm90DenseOrCausalAtHeadDims64And128() {
        HopperFlashBackward d64 = HopperFlashBackward.select(q(DType.BF16, 64), AttentionSpec.causal(64), 90);
        assertEquals("flash_bwd_hopper_bf16_d64", d64.kernelName());
        assertEquals(128, d64.keys());
        assertEquals(128, d64.queries());
        assertEquals((2 * 128 + 4 * 128) * 64 * 2 + 128 * 128 * 2 + 16 * 128 + 1024, d64.sharedBytes());
        HopperFlashBackward d128 = HopperFlashBackward.select(q(DType.F16, 128), AttentionSpec.dense(128), 90);
        assertEquals("flash_bwd_hopper_f16_d128", d128.kernelName());
        assertEquals(128, d128.keys());
        assertEquals(64, d128.queries());
        assertEquals((2 * 128 + 4 * 64) * 128 * 2 + 128 * 64 * 2 + 16 * 64 + 1024, d128.sharedBytes());
        assertEquals("flash_bwd_hopper_bf16_d64", HopperFlashBackward.select(q(DType.BF16, 64),
                AttentionSpec.dense(64).withScale(0.3), 90).kernelName());

        assertNull(HopperFlashBackward.select(q(DType.BF16, 64), AttentionSpec.dense(64), 80), "sm_80");
        assertNull(HopperFlashBackward.select(q(DType.BF16, 64), AttentionSpec.dense(64), 100), "sm_100");
        assertNull(HopperFlashBackward.select(q(DType.BF16, 96), AttentionSpec.dense(96), 90), "head dim 96");
        assertNull(HopperFlashBackward.select(q(DType.F32, 64), AttentionSpec.dense(64), 90), "F32");
        assertNull(HopperFlashBackward.select(q(DType.BF16, 64), AttentionSpec.dense(64).withDropout(0.1, 1, 0), 90),
                "dropout");
        assertNull(HopperFlashBackward.select(q(DType.BF16, 64), AttentionSpec.causal(64).withWindow(16, 0), 90),
                "sliding window");
        assertNull(HopperFlashBackward.select(q(DType.BF16, 64),
                AttentionSpec.causal(64).withKeyLengths(Tensor.of(new int[] {3}, 1)), 90), "key lengths");
        assertNull(HopperFlashBackward.select(q(DType.BF16, 64), AttentionSpec.causal(64).withPacked(
                Tensor.of(new int[] {0, 4}, 2), Tensor.of(new int[] {0, 4}, 2)), 90), "packed sequences");
        assertNull(HopperFlashBackward.select(q(DType.BF16, 64), AttentionSpec.causal(64).withDeterministic(true), 90),
                "deterministic");
    }

    @Test
    void propertyTurnsItOff() {
        System.setProperty("fulgur.flash.hopperBackward", "false");
        try {
            assertNull(HopperFlashBackward.select(q(DType.BF16, 64), AttentionSpec.dense(64), 90));
        } finally {
            System.clearProperty("fulgur.flash.hopperBackward");
        }
    }
}
