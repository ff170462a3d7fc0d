package ai.fulgur.training.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.fulgur.ops.Backends;
import ai.fulgur.ops.attention.AttentionSpec;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The attention block's packed path ({@link AbstractMultiHeadAttention#packedFlash}, one
 * {@link ai.fulgur.autograd.functions.PackedFlashAttention} over the QKV projection viewed by heads) computes what
 * {@link AbstractMultiHeadAttention#attention} computes over the three slice views, output and the packed
 * projection's gradient alike: on the CPU in F32 with equal bits; on the GPU in BF16 against the CPU's F32 slice path on
 * the same BF16-rounded values, within BF16 tolerance, with every gradient element written (run with
 * {@code -Dfulgur.cuda.poisonUninitialized=true}, an unwritten element is NaN and fails).
 */
class PackedAttentionTest {
    private static final int B = 2;
    private static final int N = 77;
    private static final int HQ = 4;
    private static final int HKV = 2;

    @Test
    void packedEqualsSliceViewsOnTheCpu() {
        int d = 16;
        float[][] data = data(d, 21);
        AttentionSpec spec = AttentionSpec.causal(d);
        float[][] packed = run(Device.cpu(), DataType.FLOAT32, data, d, spec, true);
        float[][] sliced = run(Device.cpu(), DataType.FLOAT32, data, d, spec, false);
        assertArrayEquals(sliced[0], packed[0], "output");
        assertArrayEquals(sliced[1], packed[1], "gradient of the packed projection");
    }

    /** The packed path on the CUDA kernels (BF16, head dim 64). Skipped, with the reason printed, without a GPU. */
    @Nested
    @Tag("gpu")
    class OnTheGpu {
        @Test
        void packedBf16OnTheGpuEqualsTheCpuSlicePath() {
            boolean gpu = Backends.isAvailable(ai.fulgur.ops.Device.Kind.CUDA);
            if (!gpu) {
                System.out.println("[gpu] skipped: " + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
            }
            Assumptions.assumeTrue(gpu, () -> "no CUDA device: "
                    + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
            int d = 64;
            float[][] data = data(d, 22);
            AttentionSpec spec = AttentionSpec.causal(d);
            float[][] cpu = run(Device.cpu(), DataType.FLOAT32, data, d, spec, false);
            float[][] gpuResult = run(Device.gpu(0), DataType.BFLOAT16, data, d, spec, true);
            String[] names = {"output", "packed gradient"};
            for (int t = 0; t < 2; t++) {
                double scale = 0;
                double worst = 0;
                for (int i = 0; i < cpu[t].length; i++) {
                    assertTrue(Float.isFinite(gpuResult[t][i]), names[t] + " element " + i + " is "
                            + gpuResult[t][i] + " (unwritten?)");
                    scale = Math.max(scale, Math.abs(cpu[t][i]));
                    worst = Math.max(worst, Math.abs(cpu[t][i] - gpuResult[t][i]));
                }
                System.out.printf("packed bf16 attention on the GPU vs CPU F32 slices: %s max |diff| %.3e "
                        + "(max |value| %.3e)%n", names[t], worst, scale);
                assertTrue(worst <= 2e-2 * Math.max(1, scale), names[t] + ": max |diff| " + worst + ", scale "
                        + scale);
            }
        }
    }

    private static float[][] data(int d, long seed) {
        Random random = new Random(seed);
        float[][] data = {new float[B * N * (HQ + 2 * HKV) * d], new float[B * N * HQ * d]};
        for (float[] a : data) {
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) random.nextGaussian();
            }
        }
        return data;
    }

    /** Output and the packed gradient (of sum(o · w)) as floats; the inputs are BF16-rounded first. */
    private static float[][] run(Device device, DataType type, float[][] data, int d, AttentionSpec spec,
            boolean packed) {
        try (NDManager m = NDManager.newBaseManager(device, "Fulgur")) {
            Shape shape = new Shape(B, N, HQ + 2 * HKV, d);
            NDArray heads = m.create(data[0], shape).toType(DataType.BFLOAT16, false).toType(type, false);
            heads.setRequiresGradient(true);
            NDArray w = m.create(data[1], new Shape(B, N, HQ, d));
            NDArray o;
            try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                if (packed) {
                    assertTrue(AbstractMultiHeadAttention.usesFlashKernels(heads));
                    o = AbstractMultiHeadAttention.packedFlash(heads, HQ, HKV, null, spec, true);
                } else {
                    NDArray q = heads.get(new NDIndex(":, :, 0:{}", HQ));
                    NDArray k = heads.get(new NDIndex(":, :, {}:{}", HQ, HQ + HKV));
                    NDArray v = heads.get(new NDIndex(":, :, {}:", HQ + HKV));
                    o = AbstractMultiHeadAttention.attention(q, k, v, null, spec, true);
                }
                gc.backward(o.toType(DataType.FLOAT32, false).mul(w).sum());
            }
            assertEquals(new Shape(B, N, HQ, d), o.getShape());
            return new float[][] {o.toType(DataType.FLOAT32, false).toFloatArray(),
                heads.getGradient().toType(DataType.FLOAT32, false).toFloatArray()};
        }
    }
}
