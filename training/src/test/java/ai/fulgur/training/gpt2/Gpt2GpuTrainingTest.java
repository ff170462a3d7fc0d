package ai.fulgur.training.gpt2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.fulgur.datasets.shard.TokenSource;
import ai.fulgur.ops.Backends;
import ai.fulgur.training.loop.LossCurve;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * GPT-2 training on the GPU follows the CPU run: the same initialisation (drawn on the host), the same batches, fp32,
 * no dropout; every step's loss agrees within a relative 2e-3 (cuBLASLt and the CUDA attention kernels sum in other
 * orders than the CPU kernels). Skipped, with the reason printed, where there is no GPU.
 */
@Tag("gpu")
class Gpt2GpuTrainingTest {

    @Test
    void lossCurveOnTheGpuFollowsTheCpu() {
        boolean gpu = Backends.isAvailable(ai.fulgur.ops.Device.Kind.CUDA);
        if (!gpu) {
            System.out.println("[gpu] skipped: " + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
        }
        Assumptions.assumeTrue(gpu, () -> "no CUDA device: " + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
        // a corpus with structure to learn: a noisy repeating sequence over 101 tokens
        Random random = new Random(4);
        int[] tokens = new int[20_000];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = random.nextInt(10) == 0 ? random.nextInt(101) : (i * 7) % 101;
        }
        Gpt2Config config = Gpt2Config.builder().nLayer(2).nHead(4).nEmbd(64).nPositions(64).vocabSize(101)
                .residPdrop(0).embdPdrop(0).attnPdrop(0).build();
        Gpt2Training.Config run = new Gpt2Training.Config(40, 8, 64, 3e-3f, 3e-4f, 4, 0.1f, 1.0, 0, 0, 0, 1);
        List<LossCurve.Point> cpu;
        List<LossCurve.Point> gpuCurve;
        try (Gpt2Model model = Gpt2Model.newModel(config, Device.cpu(), "Fulgur", 5)) {
            cpu = Gpt2Training.train(model, TokenSource.of(tokens), null, run, null, null, null, 40, null,
                    Device.cpu()).curve().train();
        }
        try (Gpt2Model model = Gpt2Model.newModel(config, Device.gpu(0), "Fulgur", 5)) {
            gpuCurve = Gpt2Training.train(model, TokenSource.of(tokens), null, run, null, null, null, 40, null,
                    Device.gpu(0)).curve().train();
        }
        System.out.println("GPT-2 losses, CPU " + cpu.get(0).loss() + " -> " + cpu.get(39).loss() + ", GPU "
                + gpuCurve.get(0).loss() + " -> " + gpuCurve.get(39).loss());
        assertEquals(cpu.size(), gpuCurve.size());
        for (int i = 0; i < cpu.size(); i++) {
            double c = cpu.get(i).loss();
            double g = gpuCurve.get(i).loss();
            assertTrue(Math.abs(c - g) <= 2e-3 * Math.max(1, Math.abs(c)), "step " + (i + 1) + ": CPU loss " + c
                    + ", GPU loss " + g);
        }
        assertTrue(cpu.get(39).loss() < cpu.get(0).loss() - 1, "the model learns: " + cpu);
    }
}
