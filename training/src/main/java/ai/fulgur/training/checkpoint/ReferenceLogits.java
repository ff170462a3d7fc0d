package ai.fulgur.training.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code expected.safetensors} beside a checkpoint: model inputs (I64) and the logits the model computed for them
 * (F32), the format of the Hugging Face fixtures (tools/hf-fixtures/make_fixtures.py). Written next to a Fulgur
 * checkpoint, it lets {@code tools/hf-fixtures/check_fulgur_checkpoint.py DIR} run the same inputs through
 * transformers and print the largest logit difference.
 */
public final class ReferenceLogits {
    /** The file name, beside config.json and model.safetensors. */
    public static final String FILE = "expected.safetensors";

    private ReferenceLogits() {}

    /**
     * Writes {@code dir/expected.safetensors} atomically.
     *
     * @param inputs by transformers' argument name ({@code input_ids}, {@code attention_mask},
     *               {@code token_type_ids}), integer arrays, written as I64
     * @param logits the model's output for them, written as F32
     */
    public static void write(Path dir, Map<String, NDArray> inputs, NDArray logits) throws IOException {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        inputs.forEach((name, a) -> {
            if (a.getDataType().isFloating()) {
                throw new IllegalArgumentException("input '" + name + "' must hold integer ids, got "
                        + a.getDataType());
            }
            tensors.put(name, a.toType(DataType.INT64, false));
        });
        tensors.put("logits", logits.toType(DataType.FLOAT32, false));
        Safetensors.write(dir.resolve(FILE), tensors, Map.of("writer", "fulgur"));
    }
}
