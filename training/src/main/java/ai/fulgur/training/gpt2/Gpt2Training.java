package ai.fulgur.training.gpt2;

import ai.djl.Device;
import ai.djl.training.tracker.Tracker;
import ai.fulgur.datasets.lm.CausalLmDataset;
import ai.fulgur.datasets.shard.TokenSource;
import ai.fulgur.training.distributed.DataParallel;
import ai.fulgur.training.loop.TrainingLoop;
import ai.fulgur.training.loop.TrainingState;
import ai.fulgur.training.loss.TokenCrossEntropyLoss;
import ai.fulgur.training.optim.ResumableAdamW;
import ai.fulgur.training.precision.Precision;
import java.nio.file.Path;

/**
 * Causal-LM training of a {@link Gpt2Model} on a token corpus: random windows of block+1 tokens
 * ({@link CausalLmDataset}), AdamW with linear warm-up then cosine decay, no weight decay on biases and layer norms,
 * gradient clipping at norm 1, evaluation on held-out windows, and Hugging Face checkpoints that resume exactly.
 */
public final class Gpt2Training {

    /**
     * The run's settings.
     *
     * @param steps           optimizer steps in total
     * @param batchSize       windows per step
     * @param blockSize       tokens per window (≤ n_positions)
     * @param learningRate    peak learning rate
     * @param minLearningRate final learning rate of the cosine
     * @param warmupSteps     linear warm-up steps from 0
     * @param weightDecay     decoupled weight decay of the matrices
     * @param maxGradNorm     clip gradients to this global norm (0: off)
     * @param evalEvery       evaluate every this many steps (0: at the end only)
     * @param evalBatches     held-out batches per evaluation
     * @param checkpointEvery checkpoint every this many steps (0: at the end only)
     * @param seed            seeds the windows
     * @param precision       fp32, or bf16/fp16 compute over F32 master weights (see {@link Precision})
     */
    public record Config(int steps, int batchSize, int blockSize, float learningRate, float minLearningRate,
            int warmupSteps, float weightDecay, double maxGradNorm, int evalEvery, int evalBatches,
            int checkpointEvery, long seed, Precision precision) {
        /** A run in FP32. */
        public Config(int steps, int batchSize, int blockSize, float learningRate, float minLearningRate,
                int warmupSteps, float weightDecay, double maxGradNorm, int evalEvery, int evalBatches,
                int checkpointEvery, long seed) {
            this(steps, batchSize, blockSize, learningRate, minLearningRate, warmupSteps, weightDecay, maxGradNorm,
                    evalEvery, evalBatches, checkpointEvery, seed, Precision.FP32);
        }

        /** This run in another precision. */
        public Config withPrecision(Precision p) {
            return new Config(steps, batchSize, blockSize, learningRate, minLearningRate, warmupSteps, weightDecay,
                    maxGradNorm, evalEvery, evalBatches, checkpointEvery, seed, p);
        }

        /** Checks the values that the loop does not. */
        public Config {
            if (precision == null) {
                throw new IllegalArgumentException("precision must be given (fp32, bf16 or fp16), got null");
            }
            if (blockSize <= 0) {
                throw new IllegalArgumentException("block size must be positive, got " + blockSize);
            }
            if (!(learningRate > 0) || !(minLearningRate >= 0) || minLearningRate > learningRate) {
                throw new IllegalArgumentException("learning rates must satisfy 0 <= min <= peak, peak > 0; got peak "
                        + learningRate + ", min " + minLearningRate);
            }
            if (warmupSteps < 0 || warmupSteps >= steps) {
                throw new IllegalArgumentException("warm-up steps must be in [0, steps = " + steps + "), got "
                        + warmupSteps);
            }
        }

        /** The schedule: linear warm-up from 0, then cosine from the peak to the minimum. */
        public Tracker schedule() {
            Tracker cosine = Tracker.cosine().setBaseValue(learningRate).optFinalValue(minLearningRate)
                    .setMaxUpdates(Math.max(1, steps - warmupSteps)).build();
            return warmupSteps == 0 ? cosine : Tracker.warmUp().optWarmUpBeginValue(0f).optWarmUpSteps(warmupSteps)
                    .setMainTracker(cosine).build();
        }
    }

    private Gpt2Training() {
    }

    /**
     * Trains {@code model} on {@code train}, evaluating on {@code validation} (may be null), checkpointing into
     * {@code checkpointDir} (may be null) with {@code extraFiles} (e.g. the tokenizer; may be null), continuing from
     * {@code resume} when it is not null (the model must hold that checkpoint's weights), and stopping after step
     * {@code untilStep} (≤ c.steps(), which sets the schedule).
     */
    public static TrainingLoop.Result train(Gpt2Model model, TokenSource train, TokenSource validation, Config c,
            Path checkpointDir, TrainingLoop.WeightsWriter extraFiles, TrainingState resume, int untilStep,
            TrainingLoop.Listener listener, Device device) {
        return train(model, train, validation, c, checkpointDir, extraFiles, resume, untilStep, listener, device,
                BatchSplit.NONE);
    }

    /**
     * How each step's global batch is split: over the ranks of a data-parallel group (null: one process) and, on each
     * rank, into micro-batches whose gradients are accumulated.
     */
    public record BatchSplit(DataParallel dataParallel, int microBatches) {
        /** One process, one micro-batch. */
        public static final BatchSplit NONE = new BatchSplit(null, 1);
    }

    /**
     * As {@link #train(Gpt2Model, TokenSource, TokenSource, Config, Path, TrainingLoop.WeightsWriter, TrainingState,
     * int, TrainingLoop.Listener, Device)}, with the config's batch size as the global batch, split as {@code split}
     * says.
     */
    public static TrainingLoop.Result train(Gpt2Model model, TokenSource train, TokenSource validation, Config c,
            Path checkpointDir, TrainingLoop.WeightsWriter extraFiles, TrainingState resume, int untilStep,
            TrainingLoop.Listener listener, Device device, BatchSplit split) {
        return train(model, train, validation, c, checkpointDir, extraFiles, resume, untilStep, listener, device, split,
                null);
    }

    /** As above, replaying the step as a CUDA graph when {@code cudaGraph} is not null (see TrainingLoop). */
    public static TrainingLoop.Result train(Gpt2Model model, TokenSource train, TokenSource validation, Config c,
            Path checkpointDir, TrainingLoop.WeightsWriter extraFiles, TrainingState resume, int untilStep,
            TrainingLoop.Listener listener, Device device, BatchSplit split,
            TrainingLoop.CudaGraphOptions cudaGraph) {
        int positions = model.getConfig().nPositions();
        if (c.blockSize() > positions) {
            throw new IllegalArgumentException("block size " + c.blockSize() + " exceeds the model's n_positions "
                    + positions);
        }
        checkCorpus("training", train, c.blockSize(), model.getConfig().vocabSize());
        CausalLmDataset trainSet = CausalLmDataset.builder().setTokens(train).setBlockSize(c.blockSize())
                .optSamplesPerEpoch((long) c.steps() * c.batchSize()).optSeed(c.seed())
                .setSampling(c.batchSize(), false).build();
        CausalLmDataset validationSet = null;
        if (validation != null && validation.size() > c.blockSize()) {
            validationSet = CausalLmDataset.builder().setTokens(validation).setBlockSize(c.blockSize())
                    .optWindows(CausalLmDataset.Windows.SEQUENTIAL).setSampling(c.batchSize(), false).build();
        }
        ResumableAdamW.Builder adam = ResumableAdamW.builder().optLearningRateTracker(c.schedule())
                .optWeightDecays(c.weightDecay()).optBeta2(0.95f);
        TrainingLoop loop = new TrainingLoop(model.getModel(), new TokenCrossEntropyLoss(), adam,
                new String[] {"bias", "gamma", "beta"}, trainSet, validationSet,
                new TrainingLoop.Options(c.steps(), c.batchSize(), c.evalEvery(), c.evalBatches(),
                        c.checkpointEvery(), c.maxGradNorm(), c.precision()),
                checkpointDir, checkpointDir == null ? null : dir -> {
                    model.save(dir);
                    if (extraFiles != null) {
                        extraFiles.write(dir);
                    }
                }, listener, device);
        if (split.dataParallel() != null) {
            loop.dataParallel(split.dataParallel());
        }
        loop.accumulate(split.microBatches());
        loop.cudaGraph(cudaGraph);
        return loop.run(resume, untilStep);
    }

    private static void checkCorpus(String name, TokenSource tokens, int blockSize, int vocabSize) {
        if (tokens.size() <= blockSize) {
            throw new IllegalArgumentException("the " + name + " corpus has " + tokens.size() + " tokens; a window "
                    + "of block size " + blockSize + " needs at least " + (blockSize + 1));
        }
        int[] probe = new int[(int) Math.min(tokens.size(), 1 << 16)];
        tokens.read(0, probe, 0, probe.length);
        for (int i = 0; i < probe.length; i++) {
            if (probe[i] < 0 || probe[i] >= vocabSize) {
                throw new IllegalArgumentException("token " + probe[i] + " at position " + i + " of the " + name
                        + " corpus is outside the model's vocabulary [0, " + vocabSize + "); was it prepared with "
                        + "another tokenizer?");
            }
        }
    }
}
