package ai.fulgur.cuda;

import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuInit;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * Process-wide CUDA state: initialises the driver once, lazily, and remembers why it could not (no JCuda natives,
 * no driver, no device, kernels not built), so that {@link CudaBackend} can report it instead of failing at class
 * load. Devices are opened on first use.
 */
final class CudaDriver {
    private static final Object LOCK = new Object();
    private static volatile boolean initialised;
    private static String unavailable = "";
    private static int deviceCount;
    private static final List<CudaDevice> DEVICES = new ArrayList<>();

    private CudaDriver() {}

    private static void init() {
        if (initialised) {
            return;
        }
        synchronized (LOCK) {
            if (initialised) {
                return;
            }
            try {
                String kernelsMissing = kernelsUnavailableReason();
                String driverMissing = driverUnavailableReason();
                if (kernelsMissing != null) {
                    unavailable = kernelsMissing;
                } else if (driverMissing != null) {
                    unavailable = driverMissing;
                } else {
                    JCudaDriver.setExceptionsEnabled(false);
                    int rc = cuInit(0);
                    if (rc != CUresult.CUDA_SUCCESS) {
                        unavailable = "cuInit failed: " + CUresult.stringFor(rc)
                                + (rc == CUresult.CUDA_ERROR_NO_DEVICE ? " (no CUDA device)" : "");
                    } else {
                        int[] n = {0};
                        rc = cuDeviceGetCount(n);
                        if (rc != CUresult.CUDA_SUCCESS) {
                            unavailable = "cuDeviceGetCount failed: " + CUresult.stringFor(rc);
                        } else {
                            deviceCount = n[0];
                            if (deviceCount == 0) {
                                unavailable = "the CUDA driver reports no device";
                            }
                            for (int i = 0; i < deviceCount; i++) {
                                DEVICES.add(null);
                            }
                        }
                    }
                    JCudaDriver.setExceptionsEnabled(true);
                }
            } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
                String message = String.valueOf(e.getMessage());
                int cut = message.indexOf('\n');
                unavailable = "JCuda's driver natives could not be loaded: "
                        + (cut < 0 ? message : message.substring(0, cut));
            } catch (Throwable e) {
                unavailable = "CUDA initialisation failed: " + e;
            }
            initialised = true;
        }
    }

    /** Why the NVIDIA driver library cannot be opened (no driver installed), or null if it can. */
    private static String driverUnavailableReason() {
        try {
            java.lang.foreign.SymbolLookup.libraryLookup("libcuda.so.1", java.lang.foreign.Arena.global());
            return null;
        } catch (IllegalArgumentException e) {
            return "no NVIDIA driver: libcuda.so.1 was not found";
        }
    }

    /** Why the kernels are missing from the jar (built without nvcc), or null if they are there. */
    private static String kernelsUnavailableReason() {
        try (InputStream in = CudaDriver.class.getResourceAsStream("kernels/UNAVAILABLE")) {
            if (in != null) {
                return "CUDA kernels were not built: " + new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
            }
        } catch (java.io.IOException e) {
            return "CUDA kernels could not be read: " + e.getMessage();
        }
        if (CudaDriver.class.getResource("kernels/elementwise.fatbin") == null) {
            return "CUDA kernels are missing from the class path (kernels/elementwise.fatbin)";
        }
        return null;
    }

    static boolean isAvailable() {
        init();
        return unavailable.isEmpty();
    }

    static String unavailableReason() {
        init();
        return unavailable;
    }

    static int deviceCount() {
        init();
        return unavailable.isEmpty() ? deviceCount : 0;
    }

    /** The opened device {@code index}, opening it on first use. */
    static CudaDevice device(int index) {
        init();
        if (!unavailable.isEmpty()) {
            throw new IllegalStateException("CUDA is unavailable: " + unavailable);
        }
        if (index < 0 || index >= deviceCount) {
            throw new IllegalArgumentException("CUDA device " + index + " does not exist: this machine has "
                    + deviceCount);
        }
        synchronized (LOCK) {
            CudaDevice d = DEVICES.get(index);
            if (d == null) {
                d = new CudaDevice(index);
                DEVICES.set(index, d);
            }
            return d;
        }
    }
}
