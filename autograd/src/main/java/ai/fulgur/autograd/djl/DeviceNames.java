package ai.fulgur.autograd.djl;

import ai.djl.Device;
import ai.djl.engine.Engine;

/**
 * Device names as users type them ("cpu", "gpu", "gpu:1", "cuda:0") to DJL devices. DJL's own
 * {@code Device.fromName("gpu")} gives a GPU with id -1, which matches no array's device; here a GPU without an
 * index is GPU 0, as in PyTorch.
 */
public final class DeviceNames {
    private DeviceNames() {
    }

    /** The DJL device named {@code name}, or {@code engine}'s default device when the name is null or empty. */
    public static Device parse(String name, Engine engine) {
        if (name == null || name.isEmpty()) {
            return engine.defaultDevice();
        }
        return DjlTypes.djlDevice(ai.fulgur.ops.Device.parse(name));
    }
}
