package ai.fulgur.training.gpt2;

import static ai.fulgur.training.TrainingBenchSupport.json;
import static ai.fulgur.training.TrainingBenchSupport.parse;

import ai.djl.Device;
import ai.fulgur.datasets.shard.TokenSource;
import ai.fulgur.datasets.tokenizer.Gpt2Tokenizer;
import ai.fulgur.training.loop.LossCurve;
import ai.fulgur.training.loop.TrainingLoop;
import ai.fulgur.training.precision.Precision;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Does bf16 training of GPT-2 small reach the validation loss of fp32 training? GPT-2 124M ({@link
 * Gpt2Config#gpt2Small124m()}, dropout off so that both runs see the same computation) trained twice on tinyshakespeare
 * tokenized with GPT-2's own tokenizer (split 90/10 as {@code fulgur train} does), with the same initialisation
 * (drawn on the host from one seed), the same batches (one sampling seed) and the same schedule (AdamW, linear
 * warm-up then cosine, weight decay 0.1, clipping at norm 1): once in fp32, once in bf16 (autocast over F32 master
 * weights). Both are evaluated on the whole validation split in their own precision.
 *
 * <p>Prints one JSON row per run and a summary row with both validation losses and |bf16 − fp32| / fp32, the
 * criterion of issue 7 being at most 0.02.
 *
 * <pre>
 * java ... ai.fulgur.training.gpt2.Gpt2PrecisionParityBench --data tinyshakespeare.txt [--steps 300 --batch 8
 *     --seq 256 --lr 6e-4 --warmup 30 --eval-every 100 --eval-batches ALL --card NAME --device gpu|cpu
 *     --preset 124m]
 * </pre>
 */
public final class Gpt2PrecisionParityBench {
    private Gpt2PrecisionParityBench() {
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = parse(argv);
        Path data = Path.of(a.getOrDefault("data", "../shared/data/tinyshakespeare.txt"));
        if (!Files.isRegularFile(data)) {
            throw new IllegalArgumentException("--data must name the tinyshakespeare text file, got " + data
                    + " (not a file)");
        }
        int steps = Integer.parseInt(a.getOrDefault("steps", "300"));
        int batch = Integer.parseInt(a.getOrDefault("batch", "8"));
        int seq = Integer.parseInt(a.getOrDefault("seq", "256"));
        float lr = Float.parseFloat(a.getOrDefault("lr", "6e-4"));
        int warmup = Integer.parseInt(a.getOrDefault("warmup", "30"));
        int evalEvery = Integer.parseInt(a.getOrDefault("eval-every", "100"));
        String card = a.getOrDefault("card", "unknown");
        String preset = a.getOrDefault("preset", "124m");
        Device device = "cpu".equals(a.get("device")) ? Device.cpu() : Device.gpu(0);

        int[] all = Gpt2Tokenizer.gpt2().encode(Files.readString(data));
        int cut = all.length - Math.max(1, all.length / 10);
        TokenSource train = TokenSource.of(Arrays.copyOf(all, cut));
        TokenSource validation = TokenSource.of(Arrays.copyOfRange(all, cut, all.length));
        // every validation window once: sequential windows of seq tokens, batch at a time
        int evalBatches = Integer.parseInt(a.getOrDefault("eval-batches",
                String.valueOf((validation.size() - 1) / seq / batch + 1)));
        Gpt2Config config = Gpt2Config.preset(preset).toBuilder().residPdrop(0).embdPdrop(0).attnPdrop(0).build();
        Gpt2Training.Config run = new Gpt2Training.Config(steps, batch, seq, lr, lr / 10, warmup, 0.1f, 1.0,
                evalEvery, evalBatches, 0, 1);

        Map<String, Double> validationLoss = new LinkedHashMap<>();
        for (Precision precision : List.of(Precision.FP32, Precision.BF16)) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("bench", "gpt2_precision_parity_run");
            row.put("model", "gpt2-" + preset);
            row.put("dtype", precision.label());
            row.put("seq", seq);
            row.put("batch", batch);
            row.put("steps", steps);
            row.put("train_tokens", train.size());
            row.put("validation_tokens", validation.size());
            row.put("card", card);
            long t0 = System.nanoTime();
            try (Gpt2Model model = Gpt2Model.newModel(config, device, "Fulgur", 1)) {
                TrainingLoop.Result r = Gpt2Training.train(model, train, validation, run.withPrecision(precision),
                        null, null, null, steps, new TrainingLoop.Listener() {
                            @Override
                            public void onEval(int step, double loss) {
                                System.out.printf("%s step %d: validation loss %.4f%n", precision.label(), step, loss);
                            }
                        }, device);
                List<LossCurve.Point> curve = r.curve().train();
                row.put("first_train_loss", curve.get(0).loss());
                row.put("last_train_loss", curve.get(curve.size() - 1).loss());
                row.put("validation_curve", r.curve().eval().stream()
                        .map(p -> String.format(java.util.Locale.ROOT, "%d:%.4f", p.step(), p.loss())).toList()
                        .toString().replace(" ", ""));
                row.put("validation_loss", r.lastEvalLoss());
                validationLoss.put(precision.label(), r.lastEvalLoss());
            }
            row.put("seconds", (System.nanoTime() - t0) * 1e-9);
            System.out.println(json(row));
        }
        double fp32 = validationLoss.get(Precision.FP32.label());
        double bf16 = validationLoss.get(Precision.BF16.label());
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("bench", "gpt2_precision_parity");
        summary.put("model", "gpt2-" + preset);
        summary.put("seq", seq);
        summary.put("batch", batch);
        summary.put("steps", steps);
        summary.put("fp32_validation_loss", fp32);
        summary.put("bf16_validation_loss", bf16);
        summary.put("relative_difference", Math.abs(bf16 - fp32) / fp32);
        summary.put("within_2_percent", Math.abs(bf16 - fp32) <= 0.02 * fp32);
        summary.put("card", card);
        System.out.println(json(summary));
    }
}
