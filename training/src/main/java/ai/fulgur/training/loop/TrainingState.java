package ai.fulgur.training.loop;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.fulgur.training.checkpoint.CheckpointException;
import ai.fulgur.training.checkpoint.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a checkpoint needs beyond the weights for a resumed run to continue exactly: the number of completed steps, the
 * engine's random state (seed and Philox offset, for dropout masks), the optimizer's moments, and the loss history for
 * the plot. Stored as {@value #FILE} in the checkpoint directory: moments as tensors, the rest as metadata.
 */
public record TrainingState(int step, long seed, long randomOffset, Map<String, NDArray> optimizer, LossCurve curve) {
    /** The file name inside a checkpoint directory. */
    public static final String FILE = "training_state.safetensors";
    private static final String FORMAT = "fulgur-training-state-1";

    /** Writes the state into {@code dir} atomically. */
    public void write(Path dir) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("step", Integer.toString(step));
        meta.put("seed", Long.toString(seed));
        meta.put("random_offset", Long.toString(randomOffset));
        meta.put("train_loss", encode(curve.train()));
        meta.put("eval_loss", encode(curve.eval()));
        Safetensors.write(dir.resolve(FILE), optimizer, meta);
    }

    /** Reads the state of the checkpoint in {@code dir}; a missing or foreign file fails naming it. */
    public static TrainingState read(Path dir, NDManager manager) throws IOException {
        Path file = dir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException("cannot resume from " + dir + ": it has no " + FILE + " (a checkpoint "
                    + "written by a training run has one)");
        }
        Safetensors.Contents c = Safetensors.read(file, manager);
        Map<String, String> meta = c.metadata();
        if (!FORMAT.equals(meta.get("format"))) {
            throw new CheckpointException(file + " is not a Fulgur training state: format '" + meta.get("format")
                    + "', expected '" + FORMAT + "'");
        }
        try {
            LossCurve curve = new LossCurve();
            decode(meta.getOrDefault("train_loss", ""), curve, true);
            decode(meta.getOrDefault("eval_loss", ""), curve, false);
            return new TrainingState(Integer.parseInt(meta.get("step")), Long.parseLong(meta.get("seed")),
                    Long.parseLong(meta.get("random_offset")), c.tensors(), curve);
        } catch (RuntimeException e) {
            throw new CheckpointException(file + " has malformed metadata " + meta, e);
        }
    }

    private static String encode(java.util.List<LossCurve.Point> points) {
        StringBuilder s = new StringBuilder();
        for (LossCurve.Point p : points) {
            s.append(s.isEmpty() ? "" : ",").append(p.step()).append(':')
                    .append(Double.toString(p.loss())); // exact round trip
        }
        return s.toString();
    }

    private static void decode(String s, LossCurve curve, boolean train) {
        if (s.isEmpty()) {
            return;
        }
        for (String item : s.split(",")) {
            String[] kv = item.split(":");
            long step = Long.parseLong(kv[0]);
            double loss = Double.parseDouble(kv[1]);
            if (train) {
                curve.addTrain(step, loss);
            } else {
                curve.addEval(step, loss);
            }
        }
    }
}
