package ai.fulgur.training.bert;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.tracker.Tracker;
import ai.fulgur.datasets.lm.MaskedLmDataset;
import ai.fulgur.datasets.shard.TokenSource;
import ai.fulgur.datasets.tokenizer.WordPieceTokenizer;
import ai.fulgur.training.loop.TrainingLoop;
import ai.fulgur.training.loss.TokenCrossEntropyLoss;
import ai.fulgur.training.optim.ResumableAdamW;
import ai.fulgur.training.precision.Precision;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Masked-LM pre-training of BERT on a WordPiece token corpus: rows of max_length − 2 tokens framed by [CLS] and
 * [SEP], 15% of positions chosen (80% [MASK], 10% random, 10% kept), loss on the chosen positions only; AdamW with
 * linear warm-up and cosine decay. Checkpoints are Hugging Face {@code BertForMaskedLM} directories with the
 * vocabulary ({@code vocab.txt}).
 */
public final class BertPretraining {

    /**
     * The run's settings.
     *
     * @param steps        optimizer steps
     * @param batchSize    rows per step
     * @param maxLength    tokens per row, [CLS] and [SEP] included
     * @param learningRate peak learning rate
     * @param warmupSteps  linear warm-up steps
     * @param evalEvery    evaluate every this many steps (0: at the end)
     * @param seed         masking and initialisation seed
     * @param precision    fp32, or bf16/fp16 compute over F32 master weights (see {@link Precision})
     */
    public record Config(int steps, int batchSize, int maxLength, float learningRate, int warmupSteps, int evalEvery,
            long seed, Precision precision) {
        /** A run in FP32. */
        public Config(int steps, int batchSize, int maxLength, float learningRate, int warmupSteps, int evalEvery,
                long seed) {
            this(steps, batchSize, maxLength, learningRate, warmupSteps, evalEvery, seed, Precision.FP32);
        }

        /** Checks the precision. */
        public Config {
            if (precision == null) {
                throw new IllegalArgumentException("precision must be given (fp32, bf16 or fp16), got null");
            }
        }
    }

    private BertPretraining() {
    }

    /**
     * Trains a fresh {@code config} model on {@code train}, evaluating masked-LM loss on {@code validation} (may be
     * null), writing the checkpoint and {@code vocab.txt} of {@code vocab} into {@code saveTo} (may be null).
     */
    public static TrainingLoop.Result train(BertConfig config, WordPieceTokenizer tokenizer, TokenSource train,
            TokenSource validation, Config c, Path saveTo, TrainingLoop.Listener listener, Device device) {
        if (c.maxLength() > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("max length " + c.maxLength() + " exceeds max_position_embeddings "
                    + config.maxPositionEmbeddings());
        }
        Engine.getEngine("Fulgur").setRandomSeed((int) c.seed());
        BertForMaskedLM block = new BertForMaskedLM(config);
        try (Model model = Model.newInstance("bert-mlm", device, "Fulgur")) {
            model.setBlock(block);
            BertCheckpoint.initialize(block, model.getNDManager(), DataType.FLOAT32);
            MaskedLmDataset trainSet = MaskedLmDataset.builder().setTokenizer(tokenizer).setTokens(train)
                    .setMaxLength(c.maxLength()).optSeed(c.seed()).setSampling(c.batchSize(), false).build();
            MaskedLmDataset validationSet = validation == null ? null : MaskedLmDataset.builder()
                    .setTokenizer(tokenizer).setTokens(validation).setMaxLength(c.maxLength()).optSeed(c.seed() + 1)
                    .setSampling(c.batchSize(), false).build();
            Tracker cosine = Tracker.cosine().setBaseValue(c.learningRate()).optFinalValue(c.learningRate() / 10)
                    .setMaxUpdates(Math.max(1, c.steps() - c.warmupSteps())).build();
            Tracker schedule = c.warmupSteps() == 0 ? cosine : Tracker.warmUp().optWarmUpBeginValue(0f)
                    .optWarmUpSteps(c.warmupSteps()).setMainTracker(cosine).build();
            TrainingLoop loop = new TrainingLoop(model, new TokenCrossEntropyLoss(), ResumableAdamW.builder()
                    .optLearningRateTracker(schedule).optWeightDecays(0.01f), new String[] {"bias", "gamma", "beta"},
                    trainSet, validationSet, new TrainingLoop.Options(c.steps(), c.batchSize(), c.evalEvery(), 4, 0,
                            1.0, c.precision()), saveTo, saveTo == null ? null : dir -> {
                                BertCheckpoint.save(dir, block);
                                Files.write(dir.resolve("vocab.txt"), java.util.stream.IntStream.range(0,
                                        tokenizer.vocabSize()).mapToObj(tokenizer::token).toList());
                            }, listener, device);
            return loop.run();
        }
    }
}
