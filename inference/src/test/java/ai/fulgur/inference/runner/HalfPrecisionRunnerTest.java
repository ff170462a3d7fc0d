package ai.fulgur.inference.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fulgur.inference.kvcache.BlockManager;
import ai.fulgur.inference.kvcache.SequenceGroup;
import ai.fulgur.inference.sampling.SamplingParams;
import ai.fulgur.inference.scheduler.PreemptionMode;
import ai.fulgur.inference.scheduler.Scheduler;
import ai.fulgur.inference.scheduler.SchedulerConfig;
import ai.fulgur.inference.scheduler.SchedulerOutput;
import ai.fulgur.ops.Backends;
import ai.fulgur.training.gpt2.Gpt2Config;
import ai.fulgur.training.gpt2.Gpt2Model;
import ai.fulgur.training.nn.TransformerBlock;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A BF16 GPT-2 (head dim 64, so the CUDA flash kernels apply) over the paged cache: prefill chunks through the
 * FlashAttention kernels over gathered contexts and decodes through paged attention give the logits of the plain BF16
 * forward (within BF16 rounding) and of the paged row path, on the CPU and, tagged gpu, on the GPU.
 */
class HalfPrecisionRunnerTest {

    @Test
    void bf16OnTheCpu() {
        check(Device.cpu());
    }

    @Test
    @Tag("gpu")
    void bf16OnTheGpu() {
        boolean gpu = Backends.isAvailable(ai.fulgur.ops.Device.Kind.CUDA);
        if (!gpu) {
            System.out.println("[gpu] skipped: " + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
        }
        Assumptions.assumeTrue(gpu, "no CUDA device");
        check(Device.gpu(0));
    }

    private static void check(Device device) {
        Gpt2Config config = Gpt2Config.builder().nLayer(2).nHead(2).nEmbd(128).nPositions(64).vocabSize(50)
                .residPdrop(0).embdPdrop(0).attnPdrop(0).build();
        try (Gpt2Model model = Gpt2Model.newModel(config, device, "Fulgur", 5, DataType.BFLOAT16)) {
            for (TransformerBlock layer : model.getBlock().getLayers()) {
                layer.getAttention().getQkvProjection().getParameters().get("weight").getArray().muli(8);
            }
            float[][] flash = run(model);
            System.setProperty("fulgur.paged.prefill", "rows");
            float[][] rows;
            try {
                rows = run(model);
            } finally {
                System.clearProperty("fulgur.paged.prefill");
            }
            int[][] prompts = {{3, 17, 42, 8, 8, 33}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19},
                {40, 41, 7}};
            double scale = 0;
            for (int i = 0; i < prompts.length; i++) {
                float[] plain = plainLastLogits(model, prompts[i]);
                for (float v : plain) {
                    scale = Math.max(scale, Math.abs(v));
                }
                double toPlain = maxDiff(plain, flash[i]);
                double toRows = maxDiff(rows[i], flash[i]);
                System.out.printf("%s bf16 row %d: |flash path - plain| %.3g, |flash path - row path| %.3g, "
                        + "max |logit| %.3g%n", device, i, toPlain, toRows, scale);
                assertTrue(toPlain <= 0.03 * (1 + scale), "row " + i + ": flash path vs plain forward " + toPlain);
                assertTrue(toRows <= 0.03 * (1 + scale), "row " + i + ": flash path vs row path " + toRows);
            }
            assertTrue(scale > 0.1, "logits are not all near zero: " + scale);
        }
    }

    /**
     * Step 1: prompt a (6) and the first 10 of prompt b (19); step 2: a decodes its 7th token (33), b's last 9 (a
     * chunk after cached context) and prompt c. Logits: a after step 2, b after step 2, c after step 2.
     */
    private static float[][] run(Gpt2Model model) {
        BlockManager blocks = new BlockManager(4, 32, 0, false, null);
        Scheduler scheduler = new Scheduler(new SchedulerConfig(16, 8, PreemptionMode.RECOMPUTE), blocks);
        SequenceGroup ga = new SequenceGroup("a", new int[] {3, 17, 42, 8, 8}, SamplingParams.greedy(4), 1, 0);
        SequenceGroup gb = new SequenceGroup("b", new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
            17, 18, 19}, SamplingParams.greedy(4), 1, 1);
        scheduler.add(ga);
        scheduler.add(gb);
        try (ModelRunner runner = new ModelRunner(model, blocks)) {
            SchedulerOutput step1 = scheduler.schedule();
            runner.execute(step1);
            scheduler.completeStep(step1);
            ga.sequences().getFirst().appendToken(33);
            scheduler.add(new SequenceGroup("c", new int[] {40, 41, 7}, SamplingParams.greedy(4), 1, 2));
            SchedulerOutput step2 = scheduler.schedule();
            assertEquals(3, step2.chunks().size());
            List<ModelRunner.SequenceLogits> out = runner.execute(step2);
            scheduler.completeStep(step2);
            assertEquals(3, out.size());
            return new float[][] {out.get(0).logits(), out.get(1).logits(), out.get(2).logits()};
        }
    }

    private static float[] plainLastLogits(Gpt2Model model, int[] tokens) {
        try (NDManager m = model.getManager().newSubManager()) {
            NDArray logits = model.forward(m.create(tokens, new Shape(1, tokens.length)));
            return logits.get(new NDIndex("0, -1, :")).toType(DataType.FLOAT32, false).toFloatArray();
        }
    }

    private static double maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }
}
