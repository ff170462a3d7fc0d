package ai.fulgur.training.gpt2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fulgur.datasets.shard.TokenSource;
import ai.fulgur.ops.Backends;
import ai.fulgur.training.loop.LossCurve;
import ai.fulgur.training.loop.TrainingLoop;
import ai.fulgur.training.precision.Precision;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A tiny GPT-2 trained 20 steps eagerly and with its step captured into a CUDA graph after 3 eager steps gives the
 * same losses and the same parameters: the replays read each step's batch, learning rate (warm-up then cosine) and
 * bias corrections from device memory, and clip on the device, as the eager steps do. Losses and parameters agree
 * to 1e-6 relative, or to twice the difference between two eager runs where that is larger; head dim 64, which the
 * bf16 FlashAttention kernels need.
 */
@Tag("gpu")
class Gpt2CudaGraphTest {
    private static final int STEPS = 20;

    @Test
    void fp32GraphReplayGivesTheEagerLossesAndParameters() {
        compare(Precision.FP32);
    }

    @Test
    void bf16GraphReplayGivesTheEagerLossesAndParameters() {
        compare(Precision.BF16);
    }

    /**
     * Two micro-batches per step, an evaluation every 5 steps and a checkpoint every 10, fp32: the graph run's train
     * and evaluation losses equal the eager run's, and its checkpoint records the step count the replays reached.
     */
    @Test
    void microBatchesEvaluationAndCheckpointsWithReplay(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        boolean gpu = Backends.isAvailable(ai.fulgur.ops.Device.Kind.CUDA);
        if (!gpu) {
            System.out.println("[gpu] skipped: " + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
        }
        Assumptions.assumeTrue(gpu, () -> "no CUDA device");
        Random random = new Random(4);
        int[] tokens = new int[20_000];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = random.nextInt(10) == 0 ? random.nextInt(101) : (i * 7) % 101;
        }
        Gpt2Config config = Gpt2Config.builder().nLayer(2).nHead(2).nEmbd(128).nPositions(64).vocabSize(101)
                .residPdrop(0).embdPdrop(0).attnPdrop(0).build();
        Gpt2Training.Config run = new Gpt2Training.Config(STEPS, 8, 64, 3e-3f, 3e-4f, 4, 0.1f, 0.5, 5, 2, 10, 1,
                Precision.FP32);
        List<LossCurve> curves = new ArrayList<>();
        List<String> messages = new ArrayList<>();
        for (boolean graph : new boolean[] {false, true}) {
            java.nio.file.Path checkpoint = dir.resolve(graph ? "graph" : "eager");
            try (Gpt2Model model = Gpt2Model.newModel(config, Device.gpu(0), "Fulgur", 5)) {
                curves.add(Gpt2Training.train(model, TokenSource.of(tokens), TokenSource.of(tokens), run, checkpoint,
                        null, null, STEPS, new TrainingLoop.Listener() {
                            @Override
                            public void onCudaGraph(String message) {
                                messages.add(message);
                            }
                        }, Device.gpu(0), new Gpt2Training.BatchSplit(null, 2),
                        graph ? new TrainingLoop.CudaGraphOptions(2, 3) : null).curve());
                ai.fulgur.training.loop.TrainingState state = ai.fulgur.training.loop.TrainingState.read(checkpoint,
                        model.getManager());
                assertEquals(STEPS, state.step(), "checkpointed step");
                assertEquals(curves.get(curves.size() - 1).train(), state.curve().train(), "checkpointed curve");
            }
        }
        System.out.println("CUDA graph with 2 micro-batches, eval and checkpoints: train " + curves.get(1).train()
                .get(STEPS - 1).loss() + " (graph) vs " + curves.get(0).train().get(STEPS - 1).loss() + ", eval "
                + curves.get(1).eval() + " vs " + curves.get(0).eval() + "; " + messages);
        assertTrue(messages.stream().anyMatch(m -> m.contains("captured training step 3")), messages.toString());
        assertEquals(curves.get(0).eval().size(), curves.get(1).eval().size());
        for (int i = 0; i < STEPS; i++) {
            double e = curves.get(0).train().get(i).loss();
            double g = curves.get(1).train().get(i).loss();
            assertTrue(Math.abs(e - g) <= 1e-6 * Math.abs(e), "step " + (i + 1) + ": eager " + e + ", graph " + g);
        }
        for (int i = 0; i < curves.get(0).eval().size(); i++) {
            double e = curves.get(0).eval().get(i).loss();
            double g = curves.get(1).eval().get(i).loss();
            assertTrue(Math.abs(e - g) <= 1e-5 * Math.abs(e), "evaluation " + i + ": eager " + e + ", graph " + g);
        }
    }

    private record Run(List<LossCurve.Point> losses, Map<String, float[]> parameters, List<String> messages) {
    }

    private static Run train(Precision precision, boolean graph) {
        Random random = new Random(4);
        int[] tokens = new int[20_000];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = random.nextInt(10) == 0 ? random.nextInt(101) : (i * 7) % 101;
        }
        Gpt2Config config = Gpt2Config.builder().nLayer(2).nHead(2).nEmbd(128).nPositions(64).vocabSize(101)
                .residPdrop(0).embdPdrop(0).attnPdrop(0).build();
        // clip 0.5: the first steps clip (their norm is above it), the later ones not
        Gpt2Training.Config run = new Gpt2Training.Config(STEPS, 8, 64, 3e-3f, 3e-4f, 4, 0.1f, 0.5, 0, 0, 0, 1,
                precision);
        List<String> messages = new ArrayList<>();
        TrainingLoop.Listener listener = new TrainingLoop.Listener() {
            @Override
            public void onCudaGraph(String message) {
                messages.add(message);
            }
        };
        try (Gpt2Model model = Gpt2Model.newModel(config, Device.gpu(0), "Fulgur", 5)) {
            List<LossCurve.Point> losses = Gpt2Training.train(model, TokenSource.of(tokens), null, run, null, null,
                    null, STEPS, listener, Device.gpu(0), Gpt2Training.BatchSplit.NONE,
                    graph ? new TrainingLoop.CudaGraphOptions(3, 5) : null).curve().train();
            Map<String, float[]> parameters = new LinkedHashMap<>();
            for (Pair<String, Parameter> p : model.getBlock().getParameters()) {
                parameters.put(p.getKey(), p.getValue().getArray().toType(ai.djl.ndarray.types.DataType.FLOAT32,
                        false).toFloatArray());
            }
            return new Run(losses, parameters, messages);
        }
    }

    /** The largest |eager − other| / |eager| over the steps' losses. */
    private static double lossDifference(Run eager, Run other) {
        double worst = 0;
        for (int i = 0; i < STEPS; i++) {
            double e = eager.losses().get(i).loss();
            worst = Math.max(worst, Math.abs(e - other.losses().get(i).loss()) / Math.abs(e));
        }
        return worst;
    }

    /** The largest ‖eager − other‖ / ‖eager‖ over the parameter tensors (normwise: near-zero entries don't blow up). */
    private static double parameterDifference(Run eager, Run other, StringBuilder where) {
        double worst = 0;
        for (Map.Entry<String, float[]> p : eager.parameters().entrySet()) {
            float[] e = p.getValue();
            float[] o = other.parameters().get(p.getKey());
            double diff = 0;
            double norm = 0;
            for (int i = 0; i < e.length; i++) {
                diff += (double) (e[i] - o[i]) * (e[i] - o[i]);
                norm += (double) e[i] * e[i];
            }
            double d = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
            if (d > worst) {
                worst = d;
                where.setLength(0);
                where.append(p.getKey());
            }
        }
        return worst;
    }

    /**
     * Two eager runs give the run-to-run noise (kernels that accumulate with atomics, such as the embedding's
     * gradient, sum in a different order each run); the graph run must be within 1e-6 of the first eager run, or
     * within twice that noise where the noise is larger.
     */
    private static void compare(Precision precision) {
        boolean gpu = Backends.isAvailable(ai.fulgur.ops.Device.Kind.CUDA);
        if (!gpu) {
            System.out.println("[gpu] skipped: " + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
        }
        Assumptions.assumeTrue(gpu, () -> "no CUDA device");
        Run eager = train(precision, false);
        Run again = train(precision, false);
        Run graph = train(precision, true);
        assertTrue(graph.messages().stream().anyMatch(m -> m.contains("captured training step 4")),
                "the 4th step was captured: " + graph.messages());
        assertEquals(STEPS, eager.losses().size());
        assertEquals(STEPS, graph.losses().size());
        for (int i = 0; i < STEPS; i++) {
            assertEquals(i + 1, graph.losses().get(i).step());
        }
        StringBuilder noiseWhere = new StringBuilder();
        StringBuilder graphWhere = new StringBuilder();
        double lossNoise = lossDifference(eager, again);
        double parameterNoise = parameterDifference(eager, again, noiseWhere);
        double lossGraph = lossDifference(eager, graph);
        double parameterGraph = parameterDifference(eager, graph, graphWhere);
        System.out.printf("CUDA graph vs eager, %s, %d steps: losses %s -> %s (eager) and %s -> %s (graph); max "
                + "relative loss difference: graph %.3g, eager run-to-run %.3g; max normwise parameter difference: "
                + "graph %.3g (%s), eager run-to-run %.3g (%s)%n", precision.label(), STEPS,
                eager.losses().get(0).loss(), eager.losses().get(STEPS - 1).loss(), graph.losses().get(0).loss(),
                graph.losses().get(STEPS - 1).loss(), lossGraph, lossNoise, parameterGraph, graphWhere,
                parameterNoise, noiseWhere);
        assertTrue(lossGraph <= Math.max(1e-6, 2 * lossNoise), precision.label() + ": max relative loss "
                + "difference " + lossGraph + " (eager run-to-run " + lossNoise + ")");
        assertTrue(parameterGraph <= Math.max(1e-6, 2 * parameterNoise), precision.label() + ": max normwise "
                + "parameter difference " + parameterGraph + " in " + graphWhere + " (eager run-to-run "
                + parameterNoise + ")");
        assertTrue(eager.losses().get(STEPS - 1).loss() < eager.losses().get(0).loss() - 0.5,
                "the model learns: " + eager.losses());
    }
}
