package ai.fulgur.training.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.fulgur.ops.Backends;
import ai.fulgur.ops.attention.AttentionSpec;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The DJL attention entry point dispatches to the CUDA FlashAttention kernels for BF16 arrays on the GPU, through the
 * autograd function: output and q/k/v gradients equal the CPU computation on the same (BF16-rounded) values in F32,
 * within BF16 tolerance. F32 on the GPU, and head dims without a CUDA kernel, take the composed path. Skipped, with
 * the reason printed, without a GPU.
 */
@Tag("gpu")
class FlashAttentionGpuTest {

    @Test
    void bf16OnTheGpuRunsTheFlashKernelsThroughAutograd() {
        runsOnTheGpuAsOnTheCpu(64, true, 2e-2);
    }

    /** Head dims 32 and 96 have kernels too (the mma.sync family; the Hopper kernels take 64 and 128). */
    @Test
    void headDims32And96RunTheFlashKernels() {
        runsOnTheGpuAsOnTheCpu(32, true, 2e-2);
        runsOnTheGpuAsOnTheCpu(96, true, 2e-2);
    }

    /**
     * Head dim 48 has no CUDA kernel: the entry point composes attention from standard ops in BF16 (as PyTorch's SDPA
     * falls back to its math backend) instead of failing, and still equals the CPU. BF16 scores and probabilities
     * (8-bit mantissa, 77 keys) widen the bound a little over the fused kernels' F32 accumulation.
     */
    @Test
    void anUnsupportedHeadDimFallsBackToTheComposedPathOnTheGpu() {
        runsOnTheGpuAsOnTheCpu(48, false, 3e-2);
    }

    private static void runsOnTheGpuAsOnTheCpu(int d, boolean fused, double tolerance) {
        boolean gpu = Backends.isAvailable(ai.fulgur.ops.Device.Kind.CUDA);
        if (!gpu) {
            System.out.println("[gpu] skipped: " + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
        }
        Assumptions.assumeTrue(gpu, () -> "no CUDA device: " + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
        int b = 2;
        int n = 77;
        int h = 4;
        Random random = new Random(12);
        float[][] data = new float[4][b * n * h * d];
        for (float[] a : data) {
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) random.nextGaussian();
            }
        }
        Shape shape = new Shape(b, n, h, d);
        AttentionSpec spec = AttentionSpec.causal(d);
        float[][] cpu = run(Device.cpu(), DataType.FLOAT32, data, shape, spec);
        float[][] gpuResult = run(Device.gpu(0), DataType.BFLOAT16, data, shape, spec);
        String[] names = {"output", "dq", "dk", "dv"};
        for (int t = 0; t < 4; t++) {
            double scale = 0;
            double worst = 0;
            for (int i = 0; i < cpu[t].length; i++) {
                scale = Math.max(scale, Math.abs(cpu[t][i]));
                worst = Math.max(worst, Math.abs(cpu[t][i] - gpuResult[t][i]));
            }
            System.out.printf("bf16 d%d attention on the GPU vs CPU F32: %s max |diff| %.3e (max |value| %.3e)%n",
                    d, names[t], worst, scale);
            assertTrue(worst <= tolerance * Math.max(1, scale), names[t] + ": max |diff| " + worst + ", scale "
                    + scale);
        }
        try (NDManager m = NDManager.newBaseManager(Device.gpu(0), "Fulgur")) {
            assertEquals(fused, AbstractMultiHeadAttention.usesFlashKernels(m.zeros(shape, DataType.BFLOAT16)));
            assertFalse(AbstractMultiHeadAttention.usesFlashKernels(m.zeros(shape, DataType.FLOAT32)));
        }
    }

    /** Output and gradients (of sum(o · w) with a fixed w) as floats; the inputs are BF16-rounded first. */
    private static float[][] run(Device device, DataType type, float[][] data, Shape shape, AttentionSpec spec) {
        try (NDManager m = NDManager.newBaseManager(device, "Fulgur")) {
            NDArray[] x = new NDArray[3];
            for (int t = 0; t < 3; t++) {
                // both runs see the same BF16-rounded values: the CPU one widens them back to F32
                x[t] = m.create(data[t], shape).toType(DataType.BFLOAT16, false).toType(type, false);
                x[t].setRequiresGradient(true);
            }
            NDArray w = m.create(data[3], shape).toType(type, false);
            NDArray o;
            try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                o = AbstractMultiHeadAttention.attention(x[0], x[1], x[2], null, spec, true);
                gc.backward(o.toType(DataType.FLOAT32, false).mul(w.toType(DataType.FLOAT32, false)).sum());
            }
            assertEquals(shape, o.getShape());
            return new float[][] {o.toType(DataType.FLOAT32, false).toFloatArray(),
                x[0].getGradient().toType(DataType.FLOAT32, false).toFloatArray(),
                x[1].getGradient().toType(DataType.FLOAT32, false).toFloatArray(),
                x[2].getGradient().toType(DataType.FLOAT32, false).toFloatArray()};
        }
    }
}
