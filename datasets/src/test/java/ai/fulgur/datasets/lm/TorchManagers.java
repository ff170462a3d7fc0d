package ai.fulgur.datasets.lm;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;

/** NDArrays for dataset tests come from DJL's PyTorch engine on the CPU, offline (datasets does not see ours). */
public final class TorchManagers {
    static {
        System.setProperty("ai.djl.offline", "true");
    }

    private TorchManagers() {
    }

    /** @return a fresh PyTorch manager; close it when done */
    public static NDManager cpu() {
        return NDManager.newBaseManager(Device.cpu(), "PyTorch");
    }
}
