package ai.fulgur.training.optim;

import ai.djl.Device;
import ai.fulgur.ops.Backends;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Clipping by global norm on the GPU (norm and factor computed on the device, no host read inside) against the float64
 * formula. Skipped, with the reason printed, where there is no GPU.
 */
@Tag("gpu")
class GradientClippingGpuTest {

    @BeforeEach
    void needsAGpu() {
        boolean gpu = Backends.isAvailable(ai.fulgur.ops.Device.Kind.CUDA);
        if (!gpu) {
            System.out.println("[gpu] skipped: " + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
        }
        Assumptions.assumeTrue(gpu, () -> "no CUDA device: " + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
    }

    @Test
    void scalesDownToMaxNormWhenTheNormIsAbove() {
        GradientClippingTest.clipsAsTheFormula(Device.gpu(0), 3, 1.0);
    }

    @Test
    void leavesGradientsUnchangedWhenTheNormIsBelow() {
        GradientClippingTest.clipsAsTheFormula(Device.gpu(0), 0.01, 1.0);
    }
}
