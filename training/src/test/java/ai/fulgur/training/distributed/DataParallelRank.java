package ai.fulgur.training.distributed;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.tracker.Tracker;
import ai.fulgur.ops.distributed.Collectives;
import ai.fulgur.ops.distributed.Communicator;
import ai.fulgur.ops.distributed.Rendezvous;
import ai.fulgur.training.examples.AdditionDataset;
import ai.fulgur.training.loop.LossCurve;
import ai.fulgur.training.loop.TrainingLoop;
import ai.fulgur.training.loss.TokenCrossEntropyLoss;
import ai.fulgur.training.nn.CausalTransformer;
import ai.fulgur.training.optim.ResumableAdamW;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * One rank of {@link DataParallelTest}'s group, run as its own process (the engine's gradient recording is global to
 * a JVM, so ranks cannot share one): trains the test's small transformer once per {@link Mode}, over the same group,
 * and writes each run's step losses and first parameter's values to a file, runs separated by a line "--".
 * Usage: rank size rendezvousDir outputFile.
 */
public final class DataParallelRank {
    /** How a run averages gradients. */
    enum Mode {
        /** All-reduces after the backward pass. */
        AFTER_BACKWARD,
        /** All-reduces started during the backward pass, in buckets small enough that there are several. */
        OVERLAPPED,
        /** Overlapped, each rank's batch in two micro-batches (only the second backward reduces). */
        OVERLAPPED_TWO_MICRO_BATCHES
    }

    /** Small buckets, so the test's model (about 30k parameters) makes several of them. */
    static final long BUCKET_BYTES = 16 << 10;

    static final int STEPS = 5;
    static final int BATCH = 8;
    private static final int DIGITS = 2;
    private static final int LENGTH = AdditionDataset.sequenceLength(DIGITS) - 1;

    private DataParallelRank() {
    }

    public static void main(String[] args) throws Exception {
        int rank = Integer.parseInt(args[0]);
        int size = Integer.parseInt(args[1]);
        List<String> lines = new ArrayList<>();
        try (Communicator joined = Collectives.join(ai.fulgur.ops.Device.CPU, rank, size,
                new Rendezvous(Path.of(args[2]), Duration.ofSeconds(60)))) {
            for (Mode mode : Mode.values()) {
                StartCounter group = new StartCounter(joined);
                lines.addAll(train(group, rank, mode));
                lines.add("started " + group.insideBackward + " inside backward, " + group.outsideBackward
                        + " outside");
                lines.add("--");
            }
        }
        Files.write(Path.of(args[3]), lines);
    }

    /** Counts started all-reduces by whether a backward pass (the autograd tape) was running when they started. */
    private static final class StartCounter implements Communicator {
        private final Communicator group;
        int insideBackward;
        int outsideBackward;

        StartCounter(Communicator group) {
            this.group = group;
        }

        @Override public int rank() { return group.rank(); }
        @Override public int size() { return group.size(); }
        @Override public void allReduceSum(ai.fulgur.ops.Tensor t) { group.allReduceSum(t); }
        @Override public void broadcast(ai.fulgur.ops.Tensor t, int root) { group.broadcast(t, root); }
        @Override public void close() { }

        @Override
        public ai.fulgur.ops.distributed.PendingCollective startAllReduceSum(ai.fulgur.ops.Tensor t) {
            boolean inBackward = StackWalker.getInstance().walk(frames -> frames.anyMatch(
                    f -> f.getClassName().equals("ai.fulgur.autograd.Tape")));
            if (inBackward) {
                insideBackward++;
            } else {
                outsideBackward++;
            }
            return group.startAllReduceSum(t);
        }
    }

    /**
     * The run's losses (one line each) and then the first parameter's values (one line); {@code group} null: one
     * process with the whole batch (the mode is then irrelevant).
     */
    static List<String> train(Communicator group, int rank, Mode mode) {
        // a rank other than 0 starts from other weights: the loop must broadcast rank 0's
        Engine.getEngine("Fulgur").setRandomSeed(5 + rank);
        try (Model model = Model.newInstance("dp", Device.cpu(), "Fulgur")) {
            model.setBlock(CausalTransformer.builder().setVocabSize(AdditionDataset.VOCAB).setMaxLength(LENGTH)
                    .setEmbeddingSize(32).setNumLayers(2).setNumHeads(4).build());
            model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(BATCH, LENGTH));
            ResumableAdamW.Builder adam = ResumableAdamW.builder().optLearningRateTracker(Tracker.cosine()
                    .setBaseValue(3e-3f).optFinalValue(1e-4f).setMaxUpdates(STEPS).build());
            TrainingLoop loop = new TrainingLoop(model, new TokenCrossEntropyLoss(), adam, new String[] {"bias"},
                    AdditionDataset.builder().optDigits(DIGITS).build(), null,
                    new TrainingLoop.Options(STEPS, BATCH, 0, 0, 0, 0.5), null, null, null, Device.cpu());
            if (group != null) {
                loop.dataParallel(new DataParallel(group).optOverlap(mode != Mode.AFTER_BACKWARD)
                        .optBucketBytes(BUCKET_BYTES));
            }
            if (mode == Mode.OVERLAPPED_TWO_MICRO_BATCHES) {
                loop.accumulate(2);
            }
            List<String> lines = new ArrayList<>();
            for (LossCurve.Point p : loop.run().curve().train()) {
                lines.add(Double.toString(p.loss()));
            }
            StringBuilder w = new StringBuilder();
            for (float v : model.getBlock().getParameters().get(0).getValue().getArray().toFloatArray()) {
                w.append(v).append(' ');
            }
            lines.add(w.toString().trim());
            return lines;
        }
    }
}
