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
 * bias corrections from device memory, and clip on the device, as the eager steps do. fp32 is asserted to 1e-6
 * relative; bf16 prints its difference and is held to the same bound.
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

    private record Run(List<LossCurve.Point> losses, Map<String, float[]> parameters, List<String> messages) {
    }

    private static Run train(Precision precision, boolean graph) {
        Random random = new Random(4);
        int[] tokens = new int[20_000];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = random.nextInt(10) == 0 ? random.nextInt(101) : (i * 7) % 101;
        }
        Gpt2Config config = Gpt2Config.builder().nLayer(2).nHead(4).nEmbd(64).nPositions(64).vocabSize(101)
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

    private static void compare(Precision precision) {
        boolean gpu = Backends.isAvailable(ai.fulgur.ops.Device.Kind.CUDA);
        if (!gpu) {
            System.out.println("[gpu] skipped: " + Backends.unavailableReason(ai.fulgur.ops.Device.Kind.CUDA));
        }
        Assumptions.assumeTrue(gpu, () -> "no CUDA device");
        Run eager = train(precision, false);
        Run graph = train(precision, true);
        assertTrue(graph.messages().stream().anyMatch(m -> m.contains("captured training step 4")),
                "the 4th step was captured: " + graph.messages());
        assertEquals(STEPS, eager.losses().size());
        assertEquals(STEPS, graph.losses().size());
        double worstLoss = 0;
        for (int i = 0; i < STEPS; i++) {
            double e = eager.losses().get(i).loss();
            double g = graph.losses().get(i).loss();
            assertEquals(i + 1, graph.losses().get(i).step());
            worstLoss = Math.max(worstLoss, Math.abs(e - g) / Math.abs(e));
        }
        double worstParameter = 0;
        String worstName = "";
        for (Map.Entry<String, float[]> p : eager.parameters().entrySet()) {
            float[] e = p.getValue();
            float[] g = graph.parameters().get(p.getKey());
            for (int i = 0; i < e.length; i++) {
                double d = Math.abs(e[i] - g[i]) / Math.max(1e-3, Math.abs(e[i]));
                if (d > worstParameter) {
                    worstParameter = d;
                    worstName = p.getKey() + "[" + i + "] eager " + e[i] + " graph " + g[i];
                }
            }
        }
        System.out.printf("CUDA graph vs eager, %s, %d steps: losses %s -> %s (eager) and %s -> %s (graph); max "
                + "relative loss difference %.3g, max relative parameter difference %.3g %s%n", precision.label(),
                STEPS, eager.losses().get(0).loss(), eager.losses().get(STEPS - 1).loss(),
                graph.losses().get(0).loss(), graph.losses().get(STEPS - 1).loss(), worstLoss, worstParameter,
                worstName);
        assertTrue(worstLoss <= 1e-6, precision.label() + ": max relative loss difference " + worstLoss);
        assertTrue(worstParameter <= 1e-6, precision.label() + ": max relative parameter difference "
                + worstParameter + " at " + worstName);
        assertTrue(eager.losses().get(STEPS - 1).loss() < eager.losses().get(0).loss() - 0.5,
                "the model learns: " + eager.losses());
    }
}
