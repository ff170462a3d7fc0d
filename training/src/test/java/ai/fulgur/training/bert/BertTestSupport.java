package ai.fulgur.training.bert;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.fulgur.autograd.djl.FulgurEngine;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

/** Helpers of the BERT tests: managers on both engines, the Hugging Face fixtures, inference and comparisons. */
final class BertTestSupport {
    static {
        System.setProperty("ai.djl.offline", "true");
    }

    private BertTestSupport() {}

    /** A fresh Fulgur manager on the CPU; close it when done. */
    static NDManager fulgurManager() {
        return NDManager.newBaseManager(Device.cpu(), FulgurEngine.ENGINE_NAME);
    }

    /** A fresh PyTorch manager on the CPU; close it when done. */
    static NDManager torchManager() {
        return ai.fulgur.ops.testing.TorchOracle.manager();
    }

    /** A fixture directory under the test resources' {@code hf/}, e.g. "bert-mlm-tiny". */
    static Path fixture(String name) {
        try {
            return Path.of(BertTestSupport.class.getResource("/hf/" + name + "/config.json").toURI()).getParent();
        } catch (URISyntaxException | NullPointerException e) {
            throw new AssertionError("test resource hf/" + name + "/config.json not found", e);
        }
    }

    /** The model's output for {@code inputs} in inference mode (no dropout, nothing recorded). */
    static NDArray infer(Block model, NDManager manager, NDList inputs) {
        return model.forward(new ParameterStore(manager, false), inputs, false).head();
    }

    /** Elements as doubles, read from {@code toByteBuffer()} (no engine cast involved): F32, F64, I64 or I32. */
    static double[] values(NDArray a) {
        ByteBuffer b = a.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        int n = Math.toIntExact(a.size());
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (a.getDataType()) {
                case FLOAT32 -> b.getFloat(i * 4);
                case FLOAT64 -> b.getDouble(i * 8);
                case INT64 -> b.getLong(i * 8);
                case INT32 -> b.getInt(i * 4);
                default -> throw new IllegalArgumentException("no test conversion for " + a.getDataType());
            };
        }
        return v;
    }
}
