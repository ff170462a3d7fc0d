package ai.fulgur.training.loop;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.training.loss.Loss;
import ai.djl.translate.Batchifier;
import ai.fulgur.autograd.Autocast;
import ai.fulgur.autograd.djl.FulgurEngine;
import ai.fulgur.training.checkpoint.AtomicFiles;
import ai.fulgur.training.distributed.DataParallel;
import ai.fulgur.training.distributed.GradientBuckets;
import ai.fulgur.training.optim.GradientClipping;
import ai.fulgur.training.optim.ResumableAdamW;
import ai.fulgur.training.precision.LossScaler;
import ai.fulgur.training.precision.Precision;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A step-based training run on DJL's {@link Trainer}: each step takes the batch of samples
 * {@code [step·B, step·B + B)} (modulo the dataset size) of a dataset whose samples depend only on their index, so a
 * run stopped after N steps and resumed from its checkpoint computes the same losses as one that never stopped. It
 * evaluates every K steps, clips gradients by global norm, computes in the options' {@link Precision} (with a
 * {@link LossScaler} in FP16, whose skipped steps the listener hears of), and writes checkpoints (weights through a
 * {@link WeightsWriter}, the {@link TrainingState}, and the loss curve as SVG) atomically.
 */
public final class TrainingLoop {

    /** Writes a model's weights and configuration into a checkpoint directory. */
    @FunctionalInterface
    public interface WeightsWriter {
        /** Writes the files into {@code dir}. */
        void write(Path dir) throws IOException;
    }

    /** What a run reports as it goes; every method has an empty default. */
    public interface Listener {
        /** After each step: the step's loss and the tokens (elements of the input) processed so far. */
        default void onStep(int step, int steps, double loss, long tokens, double seconds) {
        }

        /** After each evaluation. */
        default void onEval(int step, double loss) {
        }

        /**
         * After each FP16 step: the loss scale now, whether this step was skipped because its gradients overflowed,
         * and how many steps were skipped so far.
         */
        default void onLossScale(int step, double scale, boolean skipped, long skippedSteps) {
        }

        /** After each checkpoint. */
        default void onCheckpoint(int step, Path dir) {
        }

        /** What the CUDA graph option did: the step it captured, or why the run goes on eagerly. */
        default void onCudaGraph(String message) {
        }
    }

    /**
     * Training by CUDA graph replay: {@code eagerSteps} steps run eagerly (they create the optimizer state and
     * gradients, tune cuBLASLt's GEMMs and let the JIT compile), the next one is captured whole (forward, loss,
     * backward, clipping, AdamW) and every later step copies its batch into the graph's input arrays and replays it.
     * Losses stay on the device and are read in groups of {@code readLossEvery} steps (and before every evaluation,
     * checkpoint and the end), so the host does not wait for the device each step; the listener hears of each step
     * when its group is read.
     */
    public record CudaGraphOptions(int eagerSteps, int readLossEvery) {
        /** Checks both values. */
        public CudaGraphOptions {
            if (eagerSteps < 1) {
                throw new IllegalArgumentException("CUDA graph capture needs at least 1 eager step before it (it "
                        + "creates the optimizer state and tunes the GEMMs), got eagerSteps " + eagerSteps);
            }
            if (readLossEvery < 1) {
                throw new IllegalArgumentException("readLossEvery must be >= 1 step, got " + readLossEvery);
            }
        }
    }

    /**
     * The run's settings.
     *
     * @param steps           total optimizer steps of the run (a resumed run continues to this number)
     * @param batchSize       samples per step
     * @param evalEvery       evaluate every this many steps and after the last (0: only after the last)
     * @param evalBatches     batches of the evaluation set per evaluation (from its start, the same each time)
     * @param checkpointEvery checkpoint every this many steps and after the last (0: only after the last)
     * @param maxGradNorm     clip gradients to this global norm (0: no clipping)
     * @param precision       what forward and backward compute in (weights and optimizer state stay F32); FP16
     *                        adds dynamic loss scaling
     */
    public record Options(int steps, int batchSize, int evalEvery, int evalBatches, int checkpointEvery,
            double maxGradNorm, Precision precision) {
        /** Options in FP32. */
        public Options(int steps, int batchSize, int evalEvery, int evalBatches, int checkpointEvery,
                double maxGradNorm) {
            this(steps, batchSize, evalEvery, evalBatches, checkpointEvery, maxGradNorm, Precision.FP32);
        }

        /** Checks every value. */
        public Options {
            if (precision == null) {
                throw new IllegalArgumentException("precision must be given (fp32, bf16 or fp16), got null");
            }
            if (steps <= 0 || batchSize <= 0) {
                throw new IllegalArgumentException("steps and batch size must be positive, got " + steps + " and "
                        + batchSize);
            }
            if (evalEvery < 0 || evalBatches < 0 || checkpointEvery < 0 || !(maxGradNorm >= 0)) {
                throw new IllegalArgumentException("evalEvery, evalBatches, checkpointEvery and maxGradNorm must be "
                        + ">= 0, got " + evalEvery + ", " + evalBatches + ", " + checkpointEvery + ", " + maxGradNorm);
            }
        }
    }

    /** The outcome of a run: the losses by step. */
    public record Result(int steps, LossCurve curve) {
        /** The last evaluation loss, or NaN when there was none. */
        public double lastEvalLoss() {
            List<LossCurve.Point> e = curve.eval();
            return e.isEmpty() ? Double.NaN : e.get(e.size() - 1).loss();
        }
    }

    private final Model model;
    private final Loss loss;
    private final ResumableAdamW.Builder optimizer;
    private final String[] noDecaySuffixes;
    private final RandomAccessDataset train;
    private final RandomAccessDataset eval;
    private final Options options;
    private final Path checkpointDir;
    private final WeightsWriter weights;
    private final Listener listener;
    private final Device device;
    private DataParallel dataParallel;
    private int microBatches = 1;
    private CudaGraphOptions cudaGraph;

    /**
     * A run of {@code model} (its block initialised) minimising {@code loss} on {@code train}.
     *
     * @param optimizer       the optimizer's settings; the run sets its begin step when it resumes
     * @param noDecaySuffixes parameter-name suffixes excluded from weight decay (e.g. "bias", "gamma", "beta")
     * @param eval            the evaluation set, or null
     * @param checkpointDir   where checkpoints go, or null for none
     * @param weights         writes the weights into a checkpoint directory (required with a checkpoint directory)
     */
    public TrainingLoop(Model model, Loss loss, ResumableAdamW.Builder optimizer, String[] noDecaySuffixes,
            RandomAccessDataset train, RandomAccessDataset eval, Options options, Path checkpointDir,
            WeightsWriter weights, Listener listener, Device device) {
        if (checkpointDir != null && weights == null) {
            throw new IllegalArgumentException("a checkpoint directory needs a weights writer");
        }
        if (train.size() == 0) {
            throw new IllegalArgumentException("the training set is empty");
        }
        this.model = model;
        this.loss = loss;
        this.optimizer = optimizer;
        this.noDecaySuffixes = noDecaySuffixes.clone();
        this.train = train;
        this.eval = eval;
        this.options = options;
        this.checkpointDir = checkpointDir;
        this.weights = weights;
        this.listener = listener == null ? new Listener() { } : listener;
        this.device = device;
    }

    /**
     * Makes this run one rank of a data-parallel group: each step it takes its slice of the global batch (the
     * options' batch size, which must split evenly over the ranks), starts from rank 0's weights, averages gradients
     * over the ranks before clipping and the optimizer step (overlapped with the backward pass unless the group says
     * otherwise, {@link DataParallel#optOverlap}; with gradient accumulation only the last micro-batch's backward
     * reduces), and reports the mean loss; only rank 0 writes checkpoints. Returns this loop.
     */
    public TrainingLoop dataParallel(DataParallel group) {
        group.localBatch(options.batchSize());
        this.dataParallel = group;
        return this;
    }

    /**
     * Gradient accumulation: each step's batch (per rank) runs as {@code count} micro-batches of equal size, forward
     * and backward one after the other, their gradients summed with each loss weighted 1/count, so the step sees the
     * gradient of the whole batch while only one micro-batch's activations exist at a time. Returns this loop.
     */
    public TrainingLoop accumulate(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("micro-batches per step must be >= 1, got " + count);
        }
        this.microBatches = count;
        return this;
    }

    /**
     * Captures the training step into a CUDA graph and replays it (see {@link CudaGraphOptions}); null turns it off.
     * Where a graph cannot be used (a CPU device, data parallelism, FP16 loss scaling whose skip decision is a host
     * read, a step that reads the host or draws random numbers such as dropout) the run says why through
     * {@link Listener#onCudaGraph} and trains eagerly. Returns this loop.
     */
    public TrainingLoop cudaGraph(CudaGraphOptions options) {
        this.cudaGraph = options;
        return this;
    }

    /** Why this run cannot use a CUDA graph, or null when it can (as far as can be told before capture). */
    String cudaGraphObstacle() {
        if (!device.isGpu()) {
            return "CUDA graphs need a GPU; " + device + " trains eagerly";
        }
        if (!(model.getNDManager().getEngine() instanceof FulgurEngine)) {
            return "CUDA graphs need the Fulgur engine, not " + model.getNDManager().getEngine().getEngineName();
        }
        if (dataParallel != null) {
            return "CUDA graphs are not used with data parallelism (the NCCL all-reduce and the rank's loss average "
                    + "run eagerly)";
        }
        if (options.precision().needsLossScaling()) {
            return "CUDA graphs are not used in fp16: the loss scaler decides on the host whether to skip a step; "
                    + "use bf16 or fp32";
        }
        return null;
    }

    /** Runs from step 0. */
    public Result run() {
        return run(null);
    }

    /**
     * Runs from {@code resume}'s step (the weights must already be those of that checkpoint), or from 0 when it is
     * null.
     */
    public Result run(TrainingState resume) {
        return run(resume, options.steps());
    }

    /**
     * Runs from {@code resume}'s step (or 0) and stops after step {@code untilStep} (≤ the run's steps, whose count
     * still sets the schedule), checkpointing there: how a run is cut into pieces that resume exactly.
     */
    public Result run(TrainingState resume, int untilStep) {
        int start = resume == null ? 0 : resume.step();
        if (untilStep < start || untilStep > options.steps()) {
            throw new IllegalArgumentException("cannot stop after step " + untilStep + ": the run goes from step "
                    + start + " to " + options.steps());
        }
        if (start > options.steps()) {
            throw new IllegalArgumentException("the checkpoint is at step " + start + ", past the run's " + options.steps()
                    + " steps");
        }
        ResumableAdamW adam = optimizer.optBeginStep(start).build();
        adam.excludeFromDecay(model.getBlock(), noDecaySuffixes);
        LossCurve curve = resume == null ? new LossCurve() : resume.curve();
        DefaultTrainingConfig config = new DefaultTrainingConfig(loss).optOptimizer(adam)
                .optDevices(new Device[] {device});
        try (Trainer trainer = model.newTrainer(config); GradientBuckets buckets = joinDataParallel()) {
            if (resume != null) {
                adam.importState(model.getBlock(), resume.optimizer(), model.getNDManager());
                if (model.getNDManager().getEngine() instanceof FulgurEngine f) {
                    f.restoreRandomState(resume.seed(), resume.randomOffset());
                }
            }
            int ranks = dataParallel == null ? 1 : dataParallel.size();
            int localBatch = options.batchSize() / ranks;
            if (localBatch % microBatches != 0) {
                throw new IllegalArgumentException("the batch of " + localBatch + " samples" + (ranks > 1
                        ? " per rank" : "") + " does not split into " + microBatches + " equal micro-batches");
            }
            int micro = localBatch / microBatches;
            boolean writesCheckpoints = checkpointDir != null && (dataParallel == null || dataParallel.isLeader());
            Precision precision = options.precision();
            LossScaler scaler = precision.needsLossScaling() ? new LossScaler() : null;
            long tokens = 0;
            long started = System.nanoTime();
            boolean graphs = cudaGraph != null;
            if (graphs) {
                String obstacle = cudaGraphObstacle();
                if (obstacle != null) {
                    listener.onCudaGraph(obstacle);
                    graphs = false;
                }
            }
            CapturedStep captured = null;
            List<PendingLoss> pending = new ArrayList<>();
            try (NDManager lossScope = model.getNDManager().newSubManager(device)) {
                for (int step = start; step < untilStep; step++) {
                    int done = step + 1;
                    long first = (long) step * options.batchSize();
                    if (dataParallel != null) {
                        first = dataParallel.localFirst(first, options.batchSize());
                    }
                    if (graphs && step >= start + cudaGraph.eagerSteps()) {
                        try (NDManager scope = model.getNDManager().newSubManager(device)) {
                            NDList[][] batches = new NDList[microBatches][];
                            for (int m = 0; m < microBatches; m++) {
                                batches[m] = batch(train, scope, first + (long) m * micro, micro);
                            }
                            if (captured == null) {
                                try {
                                    captured = CapturedStep.capture(model, device, adam, batches,
                                            (statics, keep) -> graphedStep(trainer, statics, keep));
                                    listener.onCudaGraph("captured training step " + done + " into a CUDA graph; "
                                            + "replaying it from here on");
                                } catch (IllegalStateException | UnsupportedOperationException e) {
                                    listener.onCudaGraph("CUDA graph capture failed, training on eagerly: "
                                            + e.getMessage());
                                    graphs = false;
                                }
                            }
                            if (captured != null) {
                                for (NDList[] b : batches) {
                                    tokens += b[0].head().size();
                                }
                                captured.replay(batches, done);
                                adam.advanceTo(done);
                                pending.add(new PendingLoss(done, captured.lossCopy(lossScope), tokens,
                                        (System.nanoTime() - started) * 1e-9));
                            }
                        }
                        if (captured != null) {
                            boolean last = done == untilStep;
                            boolean evalNow = eval != null && options.evalBatches() > 0
                                    && (last || options.evalEvery() > 0 && done % options.evalEvery() == 0);
                            boolean checkpointNow = writesCheckpoints && (last || options.checkpointEvery() > 0
                                    && done % options.checkpointEvery() == 0);
                            if (last || evalNow || checkpointNow || pending.size() >= cudaGraph.readLossEvery()) {
                                reportPending(pending, curve);
                            }
                            afterStep(trainer, adam, done, last, writesCheckpoints, curve);
                            continue;
                        }
                    }
                    double stepLoss;
                    try (NDManager scope = model.getNDManager().newSubManager(device)) {
                        NDArray summed = null;
                        try (GradientCollector gc = trainer.newGradientCollector()) {
                            for (int m = 0; m < microBatches; m++) {
                                if (buckets != null) {
                                    // only the last micro-batch's backward reduces; the others just accumulate
                                    buckets.reduceDuringBackward(m == microBatches - 1);
                                }
                                NDList[] batch = batch(train, scope, first + (long) m * micro, micro);
                                tokens += batch[0].head().size() * ranks;
                                NDArray l;
                                // forward under autocast, backward outside it (the casts recorded their backward)
                                try (Autocast.Scope s = precision.autocast()) {
                                    NDList predictions = trainer.forward(batch[0], batch[1]);
                                    l = trainer.getLoss().evaluate(batch[1], predictions);
                                }
                                if (microBatches > 1) {
                                    l = l.div(microBatches);
                                }
                                gc.backward(scaler == null ? l : scaler.scaleLoss(l));
                                // the step's loss stays on the device until it is read once below
                                NDArray value = l.stopGradient();
                                summed = summed == null ? value : summed.add(value);
                            }
                            // one process: the loss is read after the optimizer is queued, the step's only host sync
                            stepLoss = dataParallel == null ? Double.NaN : dataParallel.average(summed);
                        }
                        if (dataParallel != null) {
                            // before unscaling: an overflow on any rank reaches every rank, so all skip together
                            if (buckets != null) {
                                buckets.awaitMean();
                            } else {
                                dataParallel.averageGradients(model.getBlock());
                            }
                        }
                        if (scaler != null) {
                            boolean good = scaler.unscaleAndClip(model.getBlock(), options.maxGradNorm());
                            if (good) {
                                trainer.step();
                            }
                            listener.onLossScale(step + 1, scaler.scale(), !good, scaler.skippedSteps());
                        } else {
                            if (options.maxGradNorm() > 0) {
                                // on the device, as the captured step clips: no host round trip, the same bits
                                GradientClipping.clipByGlobalNorm(model.getBlock(), options.maxGradNorm(), scope);
                            }
                            trainer.step();
                        }
                        if (dataParallel == null) {
                            stepLoss = summed.getFloat();
                        }
                    }
                    curve.addTrain(done, stepLoss);
                    listener.onStep(done, options.steps(), stepLoss, tokens, (System.nanoTime() - started) * 1e-9);
                    afterStep(trainer, adam, done, done == untilStep, writesCheckpoints, curve);
                }
            } finally {
                if (captured != null) {
                    captured.close();
                }
            }
        }
        return new Result(untilStep, curve);
    }

    /**
     * Data parallelism's start: every rank takes rank 0's weights; when the group overlaps its all-reduces with the
     * backward pass, returns the gradient buckets that do it (closed with the trainer), else null.
     */
    private GradientBuckets joinDataParallel() {
        if (dataParallel == null) {
            return null;
        }
        dataParallel.broadcastParameters(model.getBlock());
        return dataParallel.overlaps() && dataParallel.size() > 1 ? dataParallel.overlap(model.getBlock()) : null;
    }

    /** Evaluates and checkpoints after step {@code done} when the options say so. */
    private void afterStep(Trainer trainer, ResumableAdamW adam, int done, boolean last, boolean writesCheckpoints,
            LossCurve curve) {
        if (eval != null && options.evalBatches() > 0
                && (last || options.evalEvery() > 0 && done % options.evalEvery() == 0)) {
            double e = evaluate(trainer);
            curve.addEval(done, e);
            listener.onEval(done, e);
        }
        if (writesCheckpoints && (last || options.checkpointEvery() > 0 && done % options.checkpointEvery() == 0)) {
            checkpoint(adam, done, curve);
            listener.onCheckpoint(done, checkpointDir);
        }
    }

    /** A replayed step's loss, still on the device, with what the listener is told when it is read. */
    private record PendingLoss(int step, NDArray loss, long tokens, double seconds) {
    }

    /** Reads the pending losses (the first read waits for the device), adds them to the curve and reports them. */
    private void reportPending(List<PendingLoss> pending, LossCurve curve) {
        for (PendingLoss p : pending) {
            double l = p.loss().getFloat();
            p.loss().close();
            curve.addTrain(p.step(), l);
            listener.onStep(p.step(), options.steps(), l, p.tokens(), p.seconds());
        }
        pending.clear();
    }

    /**
     * The step as a CUDA graph records it: forward and backward of each micro-batch, clipping on the device, the
     * optimizer; no host reads. Returns the step's summed loss (scaled 1/count per micro-batch as in the eager step).
     */
    private NDArray graphedStep(Trainer trainer, NDList[][] batches, NDManager keep) {
        NDManager scope = model.getNDManager().newSubManager(device);
        try {
            NDArray summed = null;
            try (GradientCollector gc = trainer.newGradientCollector()) {
                for (NDList[] batch : batches) {
                    NDArray l;
                    try (Autocast.Scope s = options.precision().autocast()) {
                        NDList predictions = trainer.forward(batch[0], batch[1]);
                        l = trainer.getLoss().evaluate(batch[1], predictions);
                    }
                    if (batches.length > 1) {
                        l = l.div(batches.length);
                    }
                    gc.backward(l);
                    NDArray value = l.stopGradient();
                    summed = summed == null ? value : summed.add(value);
                }
            }
            if (options.maxGradNorm() > 0) {
                GradientClipping.clipByGlobalNorm(model.getBlock(), options.maxGradNorm(), scope);
            }
            trainer.step();
            NDArray out = summed.duplicate(); // the scope frees summed; this copy lives in keep
            out.attach(keep);
            return out;
        } finally {
            scope.close();
        }
    }

    /** The mean loss over the first {@code evalBatches} batches of the evaluation set, without dropout. */
    private double evaluate(Trainer trainer) {
        double sum = 0;
        int batches = 0;
        long size = eval.size();
        for (int b = 0; b < options.evalBatches() && (long) b * options.batchSize() < size; b++) {
            try (NDManager scope = model.getNDManager().newSubManager(device)) {
                int n = (int) Math.min(options.batchSize(), size - (long) b * options.batchSize());
                NDList[] batch = batch(eval, scope, (long) b * options.batchSize(), n);
                try (Autocast.Scope s = options.precision().autocast()) {
                    NDList predictions = trainer.evaluate(batch[0]);
                    sum += trainer.getLoss().evaluate(batch[1], predictions).getFloat();
                }
                batches++;
            }
        }
        return batches == 0 ? Double.NaN : sum / batches;
    }

    private void checkpoint(ResumableAdamW adam, int step, LossCurve curve) {
        FulgurEngine fulgur = model.getNDManager().getEngine() instanceof FulgurEngine f ? f : null;
        TrainingState state = new TrainingState(step, fulgur == null ? 0 : fulgur.seed(),
                fulgur == null ? 0 : fulgur.randomOffset(), adam.exportState(model.getBlock()), curve);
        try {
            AtomicFiles.replaceDirectory(checkpointDir, dir -> {
                weights.write(dir);
                state.write(dir);
                curve.writeSvg(dir.resolve("loss.svg"), model.getName() + " — step " + step);
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the checkpoint " + checkpointDir + " at step " + step, e);
        }
    }

    /** Samples [first, first + n) modulo the dataset size, stacked into a batch: {data, labels}. */
    private static NDList[] batch(RandomAccessDataset dataset, NDManager manager, long first, int n) {
        NDList[] data = new NDList[n];
        NDList[] labels = new NDList[n];
        long size = dataset.size();
        for (int i = 0; i < n; i++) {
            try {
                Record r = dataset.get(manager, Math.floorMod(first + i, size));
                data[i] = r.getData();
                labels[i] = r.getLabels();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read sample " + (first + i) + " of the dataset", e);
            }
        }
        try {
            return new NDList[] {Batchifier.STACK.batchify(data), Batchifier.STACK.batchify(labels)};
        } catch (RuntimeException e) {
            throw new IllegalStateException("samples of the dataset do not stack into a batch: " + e.getMessage(), e);
        }
    }
}
