package ai.fulgur.training.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * Any DJL block's parameters as a safetensors file keyed by DJL's parameter paths (e.g.
 * {@code 01block0_03attention_01qkv_weight}): the checkpoint format of models that have no Hugging Face counterpart.
 * Loading checks that the file holds exactly the block's parameters with their shapes.
 */
public final class BlockWeights {
    /** The file name inside a checkpoint directory. */
    public static final String FILE = "weights.safetensors";

    private BlockWeights() {
    }

    /** Writes {@code block}'s parameters to {@code file} atomically. */
    public static void save(Block block, Path file) throws IOException {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            tensors.put(p.getKey(), p.getValue().getArray());
        }
        Safetensors.write(file, tensors, Map.of("format", "fulgur-block-weights"));
    }

    /** Sets {@code block}'s (initialised) parameters from {@code file}. */
    public static void load(Block block, Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException("no weights file " + file);
        }
        try (NDManager scratch = block.getParameters().get(0).getValue().getArray().getManager().newSubManager()) {
            Map<String, NDArray> saved = Safetensors.read(file, scratch).tensors();
            TreeSet<String> unexpected = new TreeSet<>(saved.keySet());
            for (Pair<String, Parameter> p : block.getParameters()) {
                NDArray from = saved.get(p.getKey());
                NDArray into = p.getValue().getArray();
                if (from == null) {
                    throw new CheckpointException(file + " has no tensor '" + p.getKey() + "' of shape "
                            + into.getShape() + "; it was written for a different model");
                }
                if (!from.getShape().equals(into.getShape())) {
                    throw new CheckpointException(file + ": tensor '" + p.getKey() + "' has shape " + from.getShape()
                            + " but the model's parameter has shape " + into.getShape());
                }
                into.set(from.toType(into.getDataType(), false).toByteBuffer());
                unexpected.remove(p.getKey());
            }
            if (!unexpected.isEmpty()) {
                throw new CheckpointException(file + " holds tensors the model does not have: " + unexpected);
            }
        }
    }
}
