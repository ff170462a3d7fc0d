package ai.fulgur.training.gpt2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.fulgur.training.checkpoint.Safetensors;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Map;

/** The Hugging Face GPT-2 fixture (made by tools/hf-fixtures/make_fixtures.py) and comparisons of the GPT-2 tests. */
final class Gpt2TestSupport {
    static {
        System.setProperty("ai.djl.offline", "true");
    }

    private Gpt2TestSupport() {}

    /** {@code hf/gpt2-tiny}: config.json, model.safetensors (transformers 5.17.0) and expected.safetensors. */
    static Path fixtureDir() {
        try {
            return Path.of(Gpt2TestSupport.class.getResource("/hf/gpt2-tiny/config.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The fixture's inputs and outputs: {@code input_ids} (2, 19) I64 and {@code logits} (2, 19, 509) F32. */
    static Map<String, NDArray> expected(NDManager manager) throws IOException {
        return Safetensors.read(fixtureDir().resolve("expected.safetensors"), manager).tensors();
    }

    /** The largest |a − b|, failing on a size mismatch or a non-finite value. */
    static double maxAbsDiff(String what, float[] expected, float[] actual) {
        if (expected.length != actual.length) {
            throw new AssertionError(what + ": " + actual.length + " values, expected " + expected.length);
        }
        double max = 0;
        for (int i = 0; i < expected.length; i++) {
            if (!Float.isFinite(actual[i])) {
                throw new AssertionError(what + ": non-finite value " + actual[i] + " at " + i);
            }
            max = Math.max(max, Math.abs((double) expected[i] - actual[i]));
        }
        return max;
    }
}
