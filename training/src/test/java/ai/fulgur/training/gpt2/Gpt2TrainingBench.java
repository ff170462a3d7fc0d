package ai.fulgur.training.gpt2;

import static ai.fulgur.training.TrainingBenchSupport.json;
import static ai.fulgur.training.TrainingBenchSupport.measure;
import static ai.fulgur.training.TrainingBenchSupport.parse;
import static ai.fulgur.training.TrainingBenchSupport.peakBytes;
import static ai.fulgur.training.TrainingBenchSupport.phases;
import static ai.fulgur.training.TrainingBenchSupport.profile;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.Trainer;
import ai.djl.training.tracker.Tracker;
import ai.fulgur.training.loss.TokenCrossEntropyLoss;
import ai.fulgur.training.optim.ResumableAdamW;
import ai.fulgur.training.precision.Precision;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * GPT-2 training throughput on one GPU: the model of {@link Gpt2Config#gpt2Small124m()} (no dropout), DJL's Trainer
 * with {@link ResumableAdamW} (fused AdamW kernel, weight decay 0.1 off biases and norms), forward under
 * {@link Autocast} in the chosen precision, random tokens kept on the device. {@code warmup} steps, then
 * {@code steps} timed steps between two device syncs (reading the last loss waits for the stream), so the host's
 * launch work overlaps the device's as in training; the loss is not read inside the timed steps.
 *
 * <p>Prints one JSON row: tokens/s, ms per step, model FLOPs utilisation ((6·N + 12·L·T·C) FLOPs per token, N the
 * parameters without the position embedding, as nanoGPT counts; attention counted over the full T×T as PaLM does),
 * and the caching allocator's peak bytes. {@code --phases} adds one more step timed per phase (forward, backward,
 * optimizer) with a sync after each, a diagnostic only. {@code --profile N} adds N more steps inside a CUDA
 * {@code KernelProfiler} window and prints its per-kernel table (to standard error; 0, the default: none);
 * {@code --profile-shapes} splits element-wise rows by operation, dtypes and size.
 *
 * <pre>
 * java ... ai.fulgur.training.gpt2.Gpt2TrainingBench --seq 1024 --batch 8 --precision bf16 [--steps 10 --warmup 3]
 *     [--peak-tflops 989] [--card NAME] [--phases] [--profile N [--profile-shapes]] [--positions N]
 *     [--preset 124m] [--device gpu|cpu]
 *     [--cuda-graph] (capture one step after the warm-up and time its replays)
 *     (-Dfulgur.attention=composed: the naive attention)
 * </pre>
 */
public final class Gpt2TrainingBench {
    private Gpt2TrainingBench() {
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = parse(argv);
        int seq = Integer.parseInt(a.getOrDefault("seq", "1024"));
        int batch = Integer.parseInt(a.getOrDefault("batch", "8"));
        int warmup = Integer.parseInt(a.getOrDefault("warmup", "3"));
        int steps = Integer.parseInt(a.getOrDefault("steps", "10"));
        int positions = Integer.parseInt(a.getOrDefault("positions", String.valueOf(Math.max(1024, seq))));
        Precision precision = Precision.parse(a.getOrDefault("precision", "bf16"));
        double peakTflops = Double.parseDouble(a.getOrDefault("peak-tflops", "989"));
        String card = a.getOrDefault("card", "unknown");
        boolean phases = a.containsKey("phases");
        boolean cudaGraph = a.containsKey("cuda-graph");
        int profileSteps = Integer.parseInt(a.getOrDefault("profile", "0"));
        int profileRows = Integer.parseInt(a.getOrDefault("profile-rows", "45"));
        String attention = "composed".equals(System.getProperty("fulgur.attention")) ? "composed" : "flash";

        String preset = a.getOrDefault("preset", "124m");
        Gpt2Config config = Gpt2Config.preset(preset).toBuilder().nPositions(positions).residPdrop(0).embdPdrop(0)
                .attnPdrop(0).build();
        boolean cpu = "cpu".equals(a.get("device")); // a smoke test of the program itself, not a measurement
        Device device = cpu ? Device.cpu() : Device.gpu(0);
        ai.fulgur.ops.Device opsDevice = cpu ? null : ai.fulgur.ops.Device.cuda(0);
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("bench", "gpt2_training");
        row.put("engine", "fulgur");
        row.put("model", "gpt2-" + preset);
        row.put("seq", seq);
        row.put("batch", batch);
        row.put("dtype", precision.label());
        row.put("attention", attention);
        row.put("card", card);
        long params = Gpt2.parameterCount(config);
        long nonPosition = params - (long) config.nPositions() * config.nEmbd();
        double flopsPerToken = 6.0 * nonPosition + 12.0 * config.nLayer() * seq * config.nEmbd();
        row.put("params", params);
        try (Gpt2Model model = Gpt2Model.newModel(config, device, "Fulgur", 1)) {
            ResumableAdamW adam = ResumableAdamW.builder().optLearningRateTracker(Tracker.fixed(6e-4f))
                    .optWeightDecays(0.1f).optBeta2(0.95f).build();
            adam.excludeFromDecay(model.getBlock(), "bias", "gamma", "beta");
            Model m = model.getModel();
            try (Trainer trainer = m.newTrainer(new DefaultTrainingConfig(new TokenCrossEntropyLoss())
                    .optOptimizer(adam).optDevices(new Device[] {device}))) {
                Random random = new Random(7);
                int[] ids = new int[batch * (seq + 1)];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = random.nextInt(config.vocabSize());
                }
                int[] x = new int[batch * seq];
                int[] y = new int[batch * seq];
                for (int b = 0; b < batch; b++) {
                    System.arraycopy(ids, b * (seq + 1), x, b * seq, seq);
                    System.arraycopy(ids, b * (seq + 1) + 1, y, b * seq, seq);
                }
                NDManager data = m.getNDManager().newSubManager(device);
                NDArray inputs = data.create(x, new Shape(batch, seq));
                NDArray labels = data.create(y, new Shape(batch, seq));
                measure(cudaGraph, trainer, m, device, inputs, labels, precision, adam, warmup, steps,
                        flopsPerToken, peakTflops, opsDevice, row);
                if (phases) {
                    row.putAll(phases(trainer, m, device, inputs, labels, precision));
                }
                if (profileSteps > 0 && opsDevice != null) {
                    profile(trainer, m, device, inputs, labels, precision, profileSteps, profileRows,
                            a.containsKey("profile-shapes"), opsDevice, row);
                }
                data.close();
            }
        } catch (RuntimeException | OutOfMemoryError e) {
            row.put("error", String.valueOf(e.getMessage()).replace('"', '\'').replace('\n', ' '));
            row.put("peak_bytes", peakBytes(opsDevice));
        }
        System.out.println(json(row));
    }
}
