package ai.fulgur.training.examples;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Device;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CUDA backend's acceptance check through DJL: the unmodified spiral MLP program trains on {@code Device.gpu(0)}
 * of the Fulgur engine (arrays created there, every op on CUDA kernels) and reaches the same threshold as on the CPU.
 * Skipped, with the reason printed, where there is no GPU.
 */
@Tag("gpu")
class SpiralClassifierGpuTest {

    @Test
    void trainsOnTheGpu() throws Exception {
        boolean gpu = Backends.isAvailable(Device.Kind.CUDA);
        if (!gpu) {
            System.out.println("[gpu] skipped: " + Backends.unavailableReason(Device.Kind.CUDA));
        }
        Assumptions.assumeTrue(gpu, () -> "no CUDA device: " + Backends.unavailableReason(Device.Kind.CUDA));
        SpiralClassifier.Result r = SpiralClassifier.train(
                new SpiralClassifier.Config("Fulgur", "gpu:0", 300, 10, 50, 48, 11, null, false));
        System.out.println("Fulgur on gpu:0: " + r);
        assertTrue(r.validationAccuracy() >= 0.9f, "GPU validation accuracy " + r.validationAccuracy() + " below 0.9");
    }
}
