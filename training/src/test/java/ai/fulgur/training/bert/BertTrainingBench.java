package ai.fulgur.training.bert;

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
import ai.djl.ndarray.types.DataType;
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
 * BERT-base masked-LM training throughput on one GPU, measured as {@link ai.fulgur.training.gpt2.Gpt2TrainingBench}
 * measures GPT-2: {@link BertConfig#base()} without dropout, random token ids with 15% of positions as targets (the
 * rest ignored), no padding mask, AdamW, forward under autocast, warm-up steps then timed steps between two device
 * syncs. FLOPs per token 6·N + 12·L·T·C, N without the position and token-type embeddings. Baseline:
 * {@code tools/bench/torch_bert.py}.
 *
 * <pre>
 * java ... ai.fulgur.training.bert.BertTrainingBench --seq 512 --batch 16 --precision bf16 [--steps 20 --warmup 10]
 *     [--cuda-graph] (capture one step after the warm-up and time its replays)
 *     [--profile N [--profile-shapes] [--profile-rows R]] (N more steps timed per kernel, table on standard error)
 * </pre>
 */
public final class BertTrainingBench {
    private BertTrainingBench() {
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = parse(argv);
        int seq = Integer.parseInt(a.getOrDefault("seq", "512"));
        int batch = Integer.parseInt(a.getOrDefault("batch", "16"));
        int warmup = Integer.parseInt(a.getOrDefault("warmup", "10"));
        int steps = Integer.parseInt(a.getOrDefault("steps", "20"));
        Precision precision = Precision.parse(a.getOrDefault("precision", "bf16"));
        double peakTflops = Double.parseDouble(a.getOrDefault("peak-tflops", "989"));
        boolean cpu = "cpu".equals(a.get("device")); // a smoke test of the program itself, not a measurement
        BertConfig config = ("tiny".equals(a.get("preset")) ? BertConfig.tiny() : BertConfig.base()).withDropout(0, 0);
        Device device = cpu ? Device.cpu() : Device.gpu(0);
        ai.fulgur.ops.Device opsDevice = cpu ? null : ai.fulgur.ops.Device.cuda(0);
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("bench", "bert_training");
        row.put("engine", "fulgur");
        row.put("model", "tiny".equals(a.get("preset")) ? "bert-tiny" : "bert-base");
        row.put("seq", seq);
        row.put("batch", batch);
        row.put("dtype", precision.label());
        row.put("card", a.getOrDefault("card", "unknown"));
        BertForMaskedLM block = new BertForMaskedLM(config);
        try (Model m = Model.newInstance("bert-mlm", device, "Fulgur")) {
            m.setBlock(block);
            BertCheckpoint.initialize(block, m.getNDManager(), DataType.FLOAT32);
            long params = block.getParameters().values().stream().mapToLong(p -> p.getArray().size()).sum();
            long embeddingsNotInHead = (long) (config.maxPositionEmbeddings() + config.typeVocabSize())
                    * config.hiddenSize();
            double flopsPerToken = 6.0 * (params - embeddingsNotInHead)
                    + 12.0 * config.numHiddenLayers() * seq * config.hiddenSize();
            row.put("params", params);
            ResumableAdamW adam = ResumableAdamW.builder().optLearningRateTracker(Tracker.fixed(1e-4f))
                    .optWeightDecays(0.01f).build();
            adam.excludeFromDecay(block, "bias", "gamma", "beta");
            try (Trainer trainer = m.newTrainer(new DefaultTrainingConfig(new TokenCrossEntropyLoss())
                    .optOptimizer(adam).optDevices(new Device[] {device}))) {
                Random random = new Random(7);
                int[] ids = new int[batch * seq];
                int[] targets = new int[batch * seq];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = random.nextInt(config.vocabSize());
                    targets[i] = random.nextDouble() < 0.15 ? ids[i] : -100; // -100: not a masked position
                }
                NDManager data = m.getNDManager().newSubManager(device);
                NDArray inputs = data.create(ids, new Shape(batch, seq));
                NDArray labels = data.create(targets, new Shape(batch, seq));
                measure(a.containsKey("cuda-graph"), trainer, m, device, inputs, labels, precision, adam, warmup,
                        steps, flopsPerToken, peakTflops, opsDevice, row);
                if (a.containsKey("phases")) {
                    row.putAll(phases(trainer, m, device, inputs, labels, precision));
                }
                int profileSteps = Integer.parseInt(a.getOrDefault("profile", "0"));
                if (profileSteps > 0 && opsDevice != null) {
                    profile(trainer, m, device, inputs, labels, precision, profileSteps,
                            Integer.parseInt(a.getOrDefault("profile-rows", "45")), a.containsKey("profile-shapes"),
                            opsDevice, row);
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
