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
 * a JVM, so ranks cannot share one): trains the test's small transformer and writes the step losses and the first
 * parameter's values to a file. Usage: rank size rendezvousDir outputFile (size 0: no group, the reference run).
 */
public final class DataParallelRank {
    static final int STEPS = 5;
    static final int BATCH = 8;
    private static final int DIGITS = 2;
    private static final int LENGTH = AdditionDataset.sequenceLength(DIGITS) - 1;

    private DataParallelRank() {
    }

    public static void main(String[] args) throws Exception {
        int rank = Integer.parseInt(args[0]);
        int size = Integer.parseInt(args[1]);
        List<String> lines = train(size == 0 ? null : Collectives.join(ai.fulgur.ops.Device.CPU, rank, size,
                new Rendezvous(Path.of(args[2]), Duration.ofSeconds(60))), rank);
        Files.write(Path.of(args[3]), lines);
    }

    /** The run's losses (one line each) and then the first parameter's values (one line). */
    static List<String> train(Communicator group, int rank) {
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
                loop.dataParallel(new DataParallel(group));
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
        } finally {
            if (group != null) {
                group.close();
            }
        }
    }
}
