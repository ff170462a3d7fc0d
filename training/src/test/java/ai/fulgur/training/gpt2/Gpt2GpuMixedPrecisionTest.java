package ai.fulgur.training.gpt2;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.fulgur.ops.Backends;
import ai.fulgur.training.loop.LossCurve;
import ai.fulgur.training.precision.Precision;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Mixed-precision GPT-2 training on the GPU (cuBLASLt in BF16/F16, the CUDA FlashAttention kernels) follows the CPU:
 * the tiny GPT-2 of {@link Gpt2MixedPrecisionTest}, same initialisation and batches, trained in BF16 and in FP16 on
 * the GPU, each step's loss within a relative 2% of the CPU's FP32 run and of the CPU's BF16 run, and the final
 * validation loss within 2% of FP32's. Skipped, with the reason printed, where there is no GPU.
 */
@Tag("gpu")
class Gpt2GpuMixedPrecisionTest {

    @Test
    void bf16AndFp16OnTheGpuFollowTheCpu() {
        boolean gpu = Backends.isAvailable(ai.fulgur.ops.Device.Kind.CUDA);
        if (!gpu) {
            System.out.println("[gpu] skipped: " + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
        }
        Assumptions.assumeTrue(gpu, () -> "no CUDA device: " + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
        long[] skipped = new long[1];
        LossCurve cpuFp32 = Gpt2MixedPrecisionTest.train(Precision.FP32, Device.cpu(), skipped);
        LossCurve cpuBf16 = Gpt2MixedPrecisionTest.train(Precision.BF16, Device.cpu(), skipped);
        LossCurve gpuBf16 = Gpt2MixedPrecisionTest.train(Precision.BF16, Device.gpu(0), skipped);
        Gpt2MixedPrecisionTest.assertFollows("bf16 (gpu) against fp32 (cpu)", cpuFp32, gpuBf16, 0.02);
        Gpt2MixedPrecisionTest.assertFollows("bf16 (gpu) against bf16 (cpu)", cpuBf16, gpuBf16, 0.02);
        skipped[0] = -1;
        LossCurve gpuFp16 = Gpt2MixedPrecisionTest.train(Precision.FP16, Device.gpu(0), skipped);
        System.out.println("fp16 (gpu): " + skipped[0] + " steps skipped by the loss scaler");
        assertTrue(skipped[0] >= 0, "the loop reported the loss scale");
        Gpt2MixedPrecisionTest.assertFollows("fp16 (gpu) against fp32 (cpu)", cpuFp32, gpuFp16, 0.02);
    }
}
