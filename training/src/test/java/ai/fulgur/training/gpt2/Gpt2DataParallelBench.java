package ai.fulgur.training.gpt2;

import static ai.fulgur.training.TrainingBenchSupport.forwardBackward;
import static ai.fulgur.training.TrainingBenchSupport.json;
import static ai.fulgur.training.TrainingBenchSupport.parse;
import static ai.fulgur.training.TrainingBenchSupport.peakBytes;
import static ai.fulgur.training.TrainingBenchSupport.statistic;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.tracker.Tracker;
import ai.fulgur.autograd.Autocast;
import ai.fulgur.ops.distributed.Rendezvous;
import ai.fulgur.training.distributed.DataParallel;
import ai.fulgur.training.distributed.GradientBuckets;
import ai.fulgur.training.loss.TokenCrossEntropyLoss;
import ai.fulgur.training.optim.ResumableAdamW;
import ai.fulgur.training.precision.Precision;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Data-parallel GPT-2 training throughput, one process per GPU (start one per rank, rank r on gpu:r): the model and
 * optimizer of {@link Gpt2TrainingBench}, a fixed global batch of random tokens of which rank r takes rows
 * [r·B, (r+1)·B), gradients averaged over NCCL either during the backward pass ({@code --mode overlap},
 * {@link GradientBuckets}) or after it ({@code --mode after}, {@link DataParallel#averageGradients}). With
 * {@code --ranks 1} it is the one-GPU baseline (no collectives).
 *
 * <p>The first {@code --check} steps are synced and their mean loss over the ranks is printed (the equality check of
 * N ranks against one with the same global batch); then the rest of the warm-up, then {@code --steps} steps timed
 * between two device syncs without host reads. Rank 0 prints one JSON row: global tokens/s, ms per step.
 *
 * <pre>
 * java ... ai.fulgur.training.gpt2.Gpt2DataParallelBench --rank R --ranks N --rendezvous DIR --mode overlap|after
 *     --seq 1024 --batch 8 (per rank) [--steps 20 --warmup 10 --check 4 --bucket-mb 25 --card NAME --preset 124m]
 *     [--device cpu: CPU ranks over loopback, a smoke test] [--phases: one more step synced per phase, and the
 *     all-reduce of all gradients alone]
 * </pre>
 */
public final class Gpt2DataParallelBench {
    private Gpt2DataParallelBench() {
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = parse(argv);
        int rank = Integer.parseInt(a.getOrDefault("rank", "0"));
        int ranks = Integer.parseInt(a.getOrDefault("ranks", "1"));
        String mode = a.getOrDefault("mode", "overlap");
        if (!mode.equals("overlap") && !mode.equals("after")) {
            throw new IllegalArgumentException("--mode must be overlap or after, got " + mode);
        }
        int seq = Integer.parseInt(a.getOrDefault("seq", "1024"));
        int batch = Integer.parseInt(a.getOrDefault("batch", "8"));
        int warmup = Integer.parseInt(a.getOrDefault("warmup", "10"));
        int steps = Integer.parseInt(a.getOrDefault("steps", "20"));
        int check = Math.min(warmup, Integer.parseInt(a.getOrDefault("check", "4")));
        double bucketMb = Double.parseDouble(a.getOrDefault("bucket-mb", "25"));
        Precision precision = Precision.parse(a.getOrDefault("precision", "bf16"));
        String preset = a.getOrDefault("preset", "124m");
        Gpt2Config config = Gpt2Config.preset(preset).toBuilder().residPdrop(0).embdPdrop(0).attnPdrop(0).build();
        boolean cpu = "cpu".equals(a.get("device")); // a smoke test of the program itself, not a measurement
        Device device = cpu ? Device.cpu() : Device.gpu(rank);
        ai.fulgur.ops.Device opsDevice = cpu ? null : ai.fulgur.ops.Device.cuda(rank);

        Map<String, Object> row = new LinkedHashMap<>();
        row.put("bench", "gpt2_data_parallel");
        row.put("model", "gpt2-" + preset);
        row.put("seq", seq);
        row.put("batch_per_gpu", batch);
        row.put("gpus", ranks);
        row.put("mode", ranks == 1 ? "single" : mode);
        row.put("bucket_mb", bucketMb);
        row.put("dtype", precision.label());
        row.put("card", a.getOrDefault("card", "unknown"));
        DataParallel group = ranks == 1 ? null : DataParallel.join(device, rank, ranks,
                new Rendezvous(Path.of(a.get("rendezvous")), Duration.ofMinutes(3)));
        try (Gpt2Model model = Gpt2Model.newModel(config, device, "Fulgur", 1)) {
            ResumableAdamW adam = ResumableAdamW.builder().optLearningRateTracker(Tracker.fixed(6e-4f))
                    .optWeightDecays(0.1f).optBeta2(0.95f).build();
            adam.excludeFromDecay(model.getBlock(), "bias", "gamma", "beta");
            Model m = model.getModel();
            try (Trainer trainer = m.newTrainer(new DefaultTrainingConfig(new TokenCrossEntropyLoss())
                    .optOptimizer(adam).optDevices(new Device[] {device}))) {
                GradientBuckets buckets = null;
                if (group != null) {
                    group.optBucketBytes((long) (bucketMb * (1 << 20))).optOverlap(mode.equals("overlap"));
                    group.broadcastParameters(model.getBlock());
                    if (group.overlaps()) {
                        buckets = group.overlap(model.getBlock());
                        row.put("buckets", buckets.bucketCount());
                    }
                }
                NDManager data = m.getNDManager().newSubManager(device);
                NDArray[] xy = rankRows(data, config.vocabSize(), ranks, rank, batch, seq);
                Step step = new Step(trainer, m, device, xy[0], xy[1], precision, group, buckets);
                List<String> losses = new ArrayList<>();
                for (int s = 0; s < warmup; s++) {
                    double l = step.run(s < check);
                    if (s < check) {
                        losses.add(String.format(Locale.ROOT, "%.7f", l));
                    }
                }
                row.put("check_losses", "[" + String.join(" ", losses) + "]");
                if (steps > 0) {
                    long t0 = System.nanoTime();
                    double last = Double.NaN;
                    for (int s = 0; s < steps; s++) {
                        last = step.run(s == steps - 1); // reading the last loss is the closing sync
                    }
                    double seconds = (System.nanoTime() - t0) * 1e-9;
                    double tokensPerSecond = (double) batch * seq * ranks * steps / seconds;
                    row.put("warmup", warmup);
                    row.put("steps", steps);
                    row.put("last_loss", last);
                    row.put("step_ms", seconds * 1e3 / steps);
                    row.put("tokens_per_s", tokensPerSecond);
                    row.put("tokens_per_s_per_gpu", tokensPerSecond / ranks);
                }
                if (a.containsKey("phases")) {
                    row.putAll(step.phases());
                    if (group != null) {
                        row.put("all_reduce_ms", step.allReduceMillis(3));
                    }
                }
                row.put("peak_bytes", peakBytes(opsDevice));
                row.put("allocator_collections", statistic(opsDevice, "allocatorCollections"));
                row.put("driver_allocations", statistic(opsDevice, "driverAllocations"));
                if (buckets != null) {
                    buckets.close();
                }
                data.close();
            }
        } finally {
            if (group != null) {
                group.close();
            }
        }
        if (rank == 0) {
            System.out.println(json(row));
        }
    }

    /** Rank {@code rank}'s rows of the global batch of {@code ranks·batch} random windows (seed 7), on the device. */
    private static NDArray[] rankRows(NDManager data, int vocab, int ranks, int rank, int batch, int seq) {
        Random random = new Random(7);
        int[] ids = new int[ranks * batch * (seq + 1)];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(vocab);
        }
        int[] x = new int[batch * seq];
        int[] y = new int[batch * seq];
        for (int b = 0; b < batch; b++) {
            int row = rank * batch + b;
            System.arraycopy(ids, row * (seq + 1), x, b * seq, seq);
            System.arraycopy(ids, row * (seq + 1) + 1, y, b * seq, seq);
        }
        return new NDArray[] {data.create(x, new Shape(batch, seq)), data.create(y, new Shape(batch, seq))};
    }

    /** One training step: forward, backward (starting the overlapped all-reduces), the mean, the update. */
    private record Step(Trainer trainer, Model m, Device device, NDArray inputs, NDArray labels, Precision precision,
            DataParallel group, GradientBuckets buckets) {

        /** Runs a step; returns its loss averaged over the ranks when {@code read} (a sync), else NaN. */
        double run(boolean read) {
            try (NDManager scope = m.getNDManager().newSubManager(device)) {
                // the backward starts the overlapped all-reduces through the buckets' gradient-ready hooks
                NDArray loss = forwardBackward(trainer, scope, inputs, labels, precision);
                if (buckets != null) {
                    buckets.awaitMean();
                } else if (group != null) {
                    group.averageGradients(m.getBlock());
                }
                trainer.step();
                return !read ? Double.NaN : group == null ? loss.getFloat() : group.average(loss);
            }
        }

        /**
         * One step with a device sync after each phase (a diagnostic): forward, backward (which starts the
         * overlapped all-reduces), the gradient mean (the wait for the all-reduces, or the whole non-overlapped
         * average), the optimizer; ms of each.
         */
        Map<String, Object> phases() {
            Map<String, Object> out = new LinkedHashMap<>();
            try (NDManager scope = m.getNDManager().newSubManager(device)) {
                NDArray x = inputs.duplicate();
                x.attach(scope);
                NDArray y = labels.duplicate();
                y.attach(scope);
                sync(scope);
                long t0 = System.nanoTime();
                NDArray loss;
                try (GradientCollector gc = trainer.newGradientCollector()) {
                    try (Autocast.Scope s = precision.autocast()) {
                        NDList predictions = trainer.forward(new NDList(x), new NDList(y));
                        loss = trainer.getLoss().evaluate(new NDList(y), predictions);
                    }
                    sync(scope);
                    long t1 = System.nanoTime();
                    gc.backward(loss);
                    sync(scope);
                    long t2 = System.nanoTime();
                    out.put("forward_ms", (t1 - t0) * 1e-6);
                    out.put("backward_ms", (t2 - t1) * 1e-6);
                }
                long t2 = System.nanoTime();
                if (buckets != null) {
                    buckets.awaitMean();
                } else if (group != null) {
                    group.averageGradients(m.getBlock());
                }
                sync(scope);
                long t3 = System.nanoTime();
                trainer.step();
                sync(scope);
                out.put("mean_ms", (t3 - t2) * 1e-6);
                out.put("optimizer_ms", (System.nanoTime() - t3) * 1e-6);
            }
            return out;
        }

        /** Median ms of the non-overlapped average of all gradients (the all-reduces alone), between syncs. */
        double allReduceMillis(int repeats) {
            double[] ms = new double[repeats];
            try (NDManager scope = m.getNDManager().newSubManager(device)) {
                for (int i = 0; i < repeats; i++) {
                    sync(scope);
                    long t0 = System.nanoTime();
                    group.averageGradients(m.getBlock());
                    sync(scope);
                    ms[i] = (System.nanoTime() - t0) * 1e-6;
                }
            }
            java.util.Arrays.sort(ms);
            return ms[repeats / 2];
        }

        /** Waits for the device's stream: a value made after its queued work, read back. */
        private static void sync(NDManager scope) {
            scope.zeros(new Shape(1)).getFloat();
        }
    }
}
