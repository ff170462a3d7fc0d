package ai.fulgur.training.examples;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.training.tracker.Tracker;
import ai.fulgur.training.checkpoint.BlockWeights;
import ai.fulgur.training.loop.TrainingLoop;
import ai.fulgur.training.loss.TokenCrossEntropyLoss;
import ai.fulgur.training.nn.CausalTransformer;
import ai.fulgur.training.optim.ResumableAdamW;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The built-in training job that needs no data: a small causal transformer learns d-digit addition
 * ({@link AdditionDataset}) and is scored by exact match of greedily decoded answers on held-out problems.
 */
public final class AdditionTask {

    /**
     * What to train.
     *
     * @param engine    DJL engine name
     * @param device    "cpu", "gpu", "gpu:N", or null for the engine's default
     * @param digits    operand digits
     * @param steps     optimizer steps
     * @param batchSize problems per step
     * @param layers    transformer layers
     * @param heads     attention heads
     * @param embedding embedding size
     * @param lr        peak learning rate (linear warm-up over the first 5% of steps, then cosine to lr/10)
     * @param seed      seeds the problems, the initialisation and dropout
     * @param evalCount held-out problems for the exact-match score
     * @param saveTo    checkpoint directory, or null
     */
    public record Config(String engine, String device, int digits, int steps, int batchSize, int layers, int heads,
            int embedding, float lr, int seed, int evalCount, Path saveTo) {

        /** The built-in default: 3-digit addition, about two minutes on two CPU cores. */
        public static Config defaults() {
            return new Config("Fulgur", null, 3, 1500, 64, 2, 4, 64, 1e-2f, 7, 1000, null);
        }
    }

    /** The outcome: the held-out exact-match rate, some decoded examples and the loss curve. */
    public record Result(double exactMatch, int evaluated, List<String> samples, TrainingLoop.Result training,
            long millis) {
    }

    private AdditionTask() {
    }

    /** Trains and evaluates; {@code listener} sees every step (may be null). */
    public static Result run(Config c, TrainingLoop.Listener listener) {
        long started = System.currentTimeMillis();
        Engine engine = Engine.getEngine(c.engine());
        engine.setRandomSeed(c.seed());
        Device device = ai.fulgur.autograd.djl.DeviceNames.parse(c.device(), engine);
        int length = AdditionDataset.sequenceLength(c.digits()) - 1;
        try (Model model = Model.newInstance("addition", device, c.engine())) {
            model.setBlock(CausalTransformer.builder().setVocabSize(AdditionDataset.VOCAB).setMaxLength(length)
                    .setEmbeddingSize(c.embedding()).setNumLayers(c.layers()).setNumHeads(c.heads()).build());
            model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(c.batchSize(), length));
            AdditionDataset train = AdditionDataset.builder().optDigits(c.digits()).optSeed(c.seed()).build();
            AdditionDataset heldOut = AdditionDataset.builder().optDigits(c.digits()).optSeed(c.seed() + 1)
                    .optHeldOut(true).optSize(c.evalCount()).build();
            int warmUp = Math.max(1, c.steps() / 20);
            Tracker schedule = Tracker.warmUp().optWarmUpBeginValue(0f).optWarmUpSteps(warmUp)
                    .setMainTracker(Tracker.cosine().setBaseValue(c.lr()).optFinalValue(c.lr() / 10)
                            .setMaxUpdates(Math.max(1, c.steps() - warmUp)).build()).build();
            ResumableAdamW.Builder adam = ResumableAdamW.builder().optLearningRateTracker(schedule)
                    .optWeightDecays(0.01f).optBeta2(0.98f);
            TrainingLoop loop = new TrainingLoop(model, new TokenCrossEntropyLoss(), adam,
                    new String[] {"bias", "gamma", "beta"}, train, heldOut,
                    new TrainingLoop.Options(c.steps(), c.batchSize(), Math.max(1, c.steps() / 10), 4, 0, 1.0),
                    c.saveTo(), c.saveTo() == null ? null : dir -> BlockWeights.save(model.getBlock(),
                            dir.resolve(BlockWeights.FILE)), listener, device);
            TrainingLoop.Result trained = loop.run();
            List<String> samples = new ArrayList<>();
            double exact = exactMatch(model, heldOut, samples);
            return new Result(exact, (int) heldOut.size(), samples, trained, System.currentTimeMillis() - started);
        }
    }

    /**
     * Greedily decodes the answers of every problem of {@code problems} and returns the fraction exactly right; the
     * first few decodings go to {@code samples}.
     */
    static double exactMatch(Model model, AdditionDataset problems, List<String> samples) {
        int d = problems.digits();
        int prompt = AdditionDataset.promptLength(d);
        int answer = d + 2; // d + 1 digits and the end token
        long correct = 0;
        long n = problems.size();
        int chunk = 250;
        for (long first = 0; first < n; first += chunk) {
            int rows = (int) Math.min(chunk, n - first);
            try (NDManager scope = model.getNDManager().newSubManager()) {
                int[][] tokens = new int[rows][];
                long[][] ops = new long[rows][];
                for (int r = 0; r < rows; r++) {
                    ops[r] = problems.operands(first + r);
                    tokens[r] = java.util.Arrays.copyOf(AdditionDataset.prompt(ops[r][0], ops[r][1], d),
                            prompt + answer);
                }
                ParameterStore ps = new ParameterStore(scope, false);
                for (int pos = prompt; pos < prompt + answer; pos++) {
                    int[] flat = new int[rows * pos];
                    for (int r = 0; r < rows; r++) {
                        System.arraycopy(tokens[r], 0, flat, r * pos, pos);
                    }
                    NDArray x = scope.create(flat, new Shape(rows, pos));
                    NDArray logits = model.getBlock().forward(ps, new NDList(x), false).head();
                    NDArray next = logits.get(new NDIndex(":, -1, :")).argMax(-1).toType(DataType.INT32, false);
                    int[] chosen = next.toIntArray();
                    for (int r = 0; r < rows; r++) {
                        tokens[r][pos] = chosen[r];
                    }
                }
                for (int r = 0; r < rows; r++) {
                    int[] digitsOut = java.util.Arrays.copyOfRange(tokens[r], prompt, prompt + d + 1);
                    boolean ok = AdditionDataset.decodeAnswer(digitsOut) == ops[r][0] + ops[r][1]
                            && tokens[r][prompt + d + 1] == AdditionDataset.END;
                    correct += ok ? 1 : 0;
                    if (samples.size() < 8) {
                        samples.add(String.format("%d + %d = %d   model: %s  %s", ops[r][0], ops[r][1],
                                ops[r][0] + ops[r][1], AdditionDataset.toText(tokens[r]), ok ? "✓" : "✗"));
                    }
                }
            }
        }
        return (double) correct / n;
    }
}
