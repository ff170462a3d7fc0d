package ai.fulgur.ops;

import java.util.EnumMap;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * Finds the {@link Backend} for a device kind through {@link ServiceLoader}: the CPU backend ships in this module, the
 * CUDA backend in {@code fulgur-cuda} when it is on the class path.
 */
public final class Backends {
    private static final Map<Device.Kind, Backend> BY_KIND = load();

    private Backends() {}

    private static Map<Device.Kind, Backend> load() {
        Map<Device.Kind, Backend> found = new EnumMap<>(Device.Kind.class);
        for (Backend b : ServiceLoader.load(Backend.class, Backends.class.getClassLoader())) {
            found.putIfAbsent(b.kind(), b);
        }
        return found;
    }

    /** The backend for {@code device}, failing with the reason if it is missing or cannot run here. */
    public static Backend of(Device device) {
        Backend b = BY_KIND.get(device.kind());
        if (b == null) {
            throw new IllegalStateException("no backend for device " + device + ": add fulgur-cuda to the class path");
        }
        if (!b.isAvailable()) {
            throw new IllegalStateException("device " + device + " is unavailable: " + b.unavailableReason());
        }
        if (device.index() >= b.deviceCount()) {
            throw new IllegalStateException("device " + device + " does not exist: this machine has " + b.deviceCount()
                    + " " + device.kind() + " device(s)");
        }
        return b;
    }

    /** The backend a tensor's storage belongs to. */
    public static Backend of(Tensor t) {
        return of(t.device());
    }

    /** Whether a usable backend exists for {@code kind}; never throws. */
    public static boolean isAvailable(Device.Kind kind) {
        Backend b = BY_KIND.get(kind);
        return b != null && b.isAvailable() && b.deviceCount() > 0;
    }

    /** Why {@code kind} cannot be used here, or an empty string. */
    public static String unavailableReason(Device.Kind kind) {
        Backend b = BY_KIND.get(kind);
        if (b == null) {
            return "no " + kind + " backend on the class path";
        }
        return b.isAvailable() ? (b.deviceCount() > 0 ? "" : "no " + kind + " device found") : b.unavailableReason();
    }

    /** Number of devices of {@code kind} this process can use (0 where the backend is missing or unavailable). */
    public static int deviceCount(Device.Kind kind) {
        return isAvailable(kind) ? BY_KIND.get(kind).deviceCount() : 0;
    }
}
