package ai.fulgur.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream_flags;
import jcuda.driver.CUdeviceptr;

/**
 * One CUDA device as Fulgur uses it: its primary context, one stream on which every kernel and copy runs in order
 * (so the caching allocator may reuse a block as soon as it is released), the kernel modules loaded from the jar,
 * and the allocator.
 *
 * <p>Set {@code FULGUR_CUDA_SYNC=1} (or {@code -Dfulgur.cuda.sync=true}) to synchronise after every launch, so an
 * asynchronous error is reported with the kernel that caused it.
 */
public final class CudaDevice {
    private static final boolean SYNC_EVERY_LAUNCH = "1".equals(System.getenv("FULGUR_CUDA_SYNC"))
            || Boolean.getBoolean("fulgur.cuda.sync");

    /** Calls per timed sample in {@link #medianMillis}. */
    private static final int CALLS_PER_SAMPLE = 10;

    private final int index;
    private final CUcontext context = new CUcontext();
    private final NativeStream stream = new NativeStream();
    private final CachingAllocator allocator;
    private final PinnedStaging staging = new PinnedStaging(this, PinnedStaging.DEFAULT_BUFFER_BYTES);
    private final Map<String, KernelFunction> functions = new HashMap<>();
    private final Map<String, CUmodule> modules = new HashMap<>();
    private final String name;
    private final int computeMajor;
    private final int computeMinor;
    private final int multiprocessors;
    private final ThreadLocal<Boolean> current = ThreadLocal.withInitial(() -> false);
    private volatile CudaGraph capturing; // the graph being captured on this device's stream, or null

    CudaDevice(int index) {
        this.index = index;
        CUdevice dev = new CUdevice();
        cuDeviceGet(dev, index);
        byte[] raw = new byte[256];
        cuDeviceGetName(raw, raw.length, dev);
        int end = 0;
        while (end < raw.length && raw[end] != 0) {
            end++;
        }
        this.name = new String(raw, 0, end, java.nio.charset.StandardCharsets.US_ASCII);
        this.computeMajor = attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        this.computeMinor = attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        this.multiprocessors = attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        long[] total = {0};
        jcuda.driver.JCudaDriver.cuDeviceTotalMem(total, dev);
        this.allocator = new CachingAllocator(gcThreshold(System.getProperty("fulgur.cuda.gcThreshold"), total[0]));
        cuDevicePrimaryCtxRetain(context, dev);
        cuCtxSetCurrent(context);
        current.set(true);
        cuStreamCreate(stream, CUstream_flags.CU_STREAM_DEFAULT);
        KernelProfiler.startIfRequested(this);
    }

    /**
     * The caching allocator's garbage-collection threshold from {@code -Dfulgur.cuda.gcThreshold}: a fraction of
     * the device's {@code totalBytes} when at most 1 (default 0.8), else bytes.
     */
    static long gcThreshold(String setting, long totalBytes) {
        double v;
        try {
            v = setting == null ? 0.8 : Double.parseDouble(setting);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("fulgur.cuda.gcThreshold must be a fraction of device memory (0..1) "
                    + "or a number of bytes, got '" + setting + "'");
        }
        if (!(v >= 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException("fulgur.cuda.gcThreshold must be >= 0, got " + setting);
        }
        return v <= 1 ? (long) (v * totalBytes) : (long) v;
    }

    /** Garbage collections the caching allocator asked for (see {@link CachingAllocator}). */
    public long allocatorCollections() {
        return allocator.collections();
    }

    private static int attribute(CUdevice dev, int attribute) {
        int[] v = {0};
        cuDeviceGetAttribute(v, attribute, dev);
        return v[0];
    }

    /** Makes this device's context current on the calling thread (cheap after the first time). */
    void enter() {
        if (!current.get()) {
            cuCtxSetCurrent(context);
            current.set(true);
        }
    }

    public int index() {
        return index;
    }

    public String name() {
        return name;
    }

    /** Compute capability as major·10 + minor (90 for Hopper). */
    public int computeCapability() {
        return computeMajor * 10 + computeMinor;
    }

    public int multiprocessors() {
        return multiprocessors;
    }

    NativeStream stream() {
        return stream;
    }

    CachingAllocator allocator() {
        return allocator;
    }

    /** Bytes handed out by the caching allocator. */
    public long allocatedBytes() {
        return allocator.allocatedBytes();
    }

    /** Bytes the caching allocator holds from the driver. */
    public long reservedBytes() {
        return allocator.reservedBytes();
    }

    /** Peak of {@link #allocatedBytes()} since the last reset. */
    public long peakBytes() {
        return allocator.peakBytes();
    }

    public void resetPeak() {
        allocator.resetPeak();
    }

    /** Number of cuMemAlloc calls so far. */
    public long driverAllocations() {
        return allocator.driverAllocations();
    }

    /** Waits for all work queued on this device's stream. */
    public void synchronize() {
        requireNotCapturing("a device synchronisation (cuStreamSynchronize)");
        enter();
        cuStreamSynchronize(stream);
    }

    /**
     * Milliseconds per call of {@code work} measured with CUDA events on this device's stream: {@code warmup} calls
     * first, then {@code repeats} samples of {@value #CALLS_PER_SAMPLE} back-to-back calls each; returns the median
     * sample divided by the calls. Back-to-back calls let the host's launch overhead overlap with the device's work,
     * as in a training loop, so a short kernel is not timed as the host's launch latency.
     */
    public double medianMillis(Runnable work, int warmup, int repeats) {
        enter();
        for (int i = 0; i < warmup; i++) {
            work.run();
        }
        jcuda.driver.CUevent start = new jcuda.driver.CUevent();
        jcuda.driver.CUevent end = new jcuda.driver.CUevent();
        jcuda.driver.JCudaDriver.cuEventCreate(start, 0);
        jcuda.driver.JCudaDriver.cuEventCreate(end, 0);
        double[] times = new double[repeats];
        float[] ms = {0};
        for (int i = 0; i < repeats; i++) {
            jcuda.driver.JCudaDriver.cuEventRecord(start, stream);
            for (int c = 0; c < CALLS_PER_SAMPLE; c++) {
                work.run();
            }
            jcuda.driver.JCudaDriver.cuEventRecord(end, stream);
            jcuda.driver.JCudaDriver.cuEventSynchronize(end);
            jcuda.driver.JCudaDriver.cuEventElapsedTime(ms, start, end);
            times[i] = ms[0] / CALLS_PER_SAMPLE;
        }
        jcuda.driver.JCudaDriver.cuEventDestroy(start);
        jcuda.driver.JCudaDriver.cuEventDestroy(end);
        Arrays.sort(times);
        return times[repeats / 2];
    }

    // -----------------------------------------------------------------------------------------------------------------
    // kernels

    /** Per kernel, the dynamic shared memory it has been allowed so far. */
    private final java.util.concurrent.ConcurrentHashMap<String, Integer> sharedAllowed =
            new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Lets {@code kernel} of {@code module} use {@code bytes} of dynamic shared memory: beyond 48 KiB a kernel must
     * opt in (Hopper allows up to 227 KiB, Ampere 163); set once per kernel, again only for a larger size.
     */
    void allowDynamicSharedMemory(String module, String kernel, int bytes) {
        String key = module + "/" + kernel;
        Integer allowed = sharedAllowed.get(key);
        if (allowed == null || allowed < bytes) {
            enter();
            jcuda.driver.JCudaDriver.cuFuncSetAttribute(function(module, kernel),
                    jcuda.driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
            sharedAllowed.merge(key, bytes, Math::max);
        }
    }

    /** The kernel {@code kernel} of the fatbin {@code module}.fatbin shipped in the jar. */
    synchronized KernelFunction function(String module, String kernel) {
        String key = module + "/" + kernel;
        KernelFunction f = functions.get(key);
        if (f == null) {
            enter();
            CUmodule m = modules.computeIfAbsent(module, this::load);
            f = new KernelFunction();
            try {
                cuModuleGetFunction(f, m, kernel);
            } catch (jcuda.CudaException e) {
                throw new CudaException("kernel " + kernel + " is not in " + module + ".fatbin: " + e.getMessage(), e);
            }
            functions.put(key, f);
        }
        return f;
    }

    private CUmodule load(String module) {
        String resource = "kernels/" + module + ".fatbin";
        try (InputStream in = CudaDevice.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new CudaException("CUDA module " + resource + " is missing from the jar");
            }
            byte[] fatbin = in.readAllBytes();
            byte[] terminated = Arrays.copyOf(fatbin, fatbin.length + 1); // cuModuleLoadData reads to a NUL
            CUmodule m = new CUmodule();
            cuModuleLoadData(m, terminated);
            return m;
        } catch (IOException e) {
            throw new CudaException("reading " + resource + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * Launches {@code kernel} of {@code module} on this device's stream with a 1-D grid. Arguments: a
     * {@link CudaStorage}-backed address as {@code long}, {@code int}, {@code long}, {@code float}, {@code double},
     * a {@code long[]} passed by value as a struct of int64 fields, or a {@link TensorMap} (a by-value
     * {@code CUtensorMap}; a launch with one goes through one pointer per argument).
     */
    void launch(String module, String kernel, long grid, int block, int sharedBytes, Object... args) {
        launch3(module, kernel, grid, 1, 1, block, sharedBytes, args);
    }

    /** {@link #launch} with a 3-D grid. */
    void launch3(String module, String kernel, long gridX, long gridY, long gridZ, int block, int sharedBytes,
            Object... args) {
        if (gridX == 0 || gridY == 0 || gridZ == 0) {
            return;
        }
        enter();
        KernelFunction f = function(module, kernel);
        boolean profiled = KernelProfiler.active;
        if (profiled) {
            KernelProfiler.before(this, kernel);
        }
        try {
            // a by-value CUtensorMap goes through one pointer per argument: the driver then places each parameter at
            // the offset the compiler gave it (its 128-byte alignment in the parameter bank may pad differently from
            // the C layout that the packed paths write)
            switch (hasTensorMap(args) ? LaunchPath.JCUDA_PARAMS : launchPath) {
                case FOREIGN -> {
                    int result = launchForeign(f, kernel, gridX, gridY, gridZ, block, sharedBytes, args);
                    if (result != 0) {
                        throw launchFailure(module, kernel, gridX, gridY, gridZ, block,
                                jcuda.driver.CUresult.stringFor(result), null);
                    }
                }
                case JCUDA_PACKED -> launchPacked(f, kernel, gridX, gridY, gridZ, block, sharedBytes, args);
                case JCUDA_PARAMS -> launchWithParams(f, kernel, gridX, gridY, gridZ, block, sharedBytes, args);
            }
            if (profiled) {
                KernelProfiler.after(this);
            }
            if (SYNC_EVERY_LAUNCH && capturing == null) {
                cuStreamSynchronize(stream);
            }
        } catch (jcuda.CudaException e) {
            throw launchFailure(module, kernel, gridX, gridY, gridZ, block, e.getMessage(), e);
        }
    }

    static boolean hasTensorMap(Object[] args) {
        for (Object a : args) {
            if (a instanceof TensorMap) {
                return true;
            }
        }
        return false;
    }

    private static CudaException launchFailure(String module, String kernel, long gridX, long gridY, long gridZ,
            int block, String why, Throwable cause) {
        return new CudaException("kernel " + module + "/" + kernel + " (grid " + gridX + "×" + gridY + "×" + gridZ
                + ", block " + block + ") failed: " + why, cause);
    }

    /** How launches reach the driver; {@code -Dfulgur.cuda.launch=jcuda|params} picks a JCuda path. */
    enum LaunchPath {
        /** Packed arguments, cuLaunchKernel through java.lang.foreign ({@link DriverLaunch}): the default. */
        FOREIGN,
        /** Packed arguments, JCuda's cuLaunchKernel. */
        JCUDA_PACKED,
        /** One JCuda pointer per argument. */
        JCUDA_PARAMS
    }

    private static volatile LaunchPath launchPath = defaultLaunchPath(System.getProperty("fulgur.cuda.launch"));

    static LaunchPath defaultLaunchPath(String setting) {
        return switch (setting == null ? "" : setting) {
            case "" -> DriverLaunch.available() ? LaunchPath.FOREIGN : LaunchPath.JCUDA_PACKED;
            case "foreign" -> LaunchPath.FOREIGN;
            case "jcuda" -> LaunchPath.JCUDA_PACKED;
            case "params" -> LaunchPath.JCUDA_PARAMS;
            default -> throw new IllegalArgumentException("fulgur.cuda.launch must be foreign, jcuda or params, got '"
                    + setting + "'");
        };
    }

    /** Chooses the launch path (for {@code LaunchBench}, which compares them). */
    static void useLaunchPath(LaunchPath path) {
        launchPath = path;
    }

    /** One JCuda Pointer per argument: simple, but JCuda pins and copies each small array on every call. */
    private void launchWithParams(CUfunction f, String kernel, long gridX, long gridY, long gridZ, int block,
            int sharedBytes, Object[] args) {
        Pointer[] params = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            params[i] = switch (args[i]) {
                case Integer v -> Pointer.to(new int[] {v});
                case Long v -> Pointer.to(new long[] {v});
                case Float v -> Pointer.to(new float[] {v});
                case Double v -> Pointer.to(new double[] {v});
                case long[] v -> Pointer.to(v);
                case int[] v -> Pointer.to(v);
                case TensorMap v -> Pointer.to(v.words());
                default -> throw unsupportedArgument(kernel, args[i], i);
            };
        }
        cuLaunchKernel(f, (int) gridX, (int) gridY, (int) gridZ, block, 1, 1, sharedBytes, stream, Pointer.to(params),
                null);
    }

    /** All arguments packed into the thread's buffer ({@link #pack}), handed to JCuda's cuLaunchKernel. */
    private void launchPacked(CUfunction f, String kernel, long gridX, long gridY, long gridZ, int block,
            int sharedBytes, Object[] args) {
        ArgumentBuffer a = ARGUMENTS.get();
        a.size[0] = pack(a.arguments.buffer, kernel, args);
        cuLaunchKernel(f, (int) gridX, (int) gridY, (int) gridZ, block, 1, 1, sharedBytes, stream, null, a.extra);
    }

    /**
     * All arguments packed into the thread's buffer ({@link #pack}), cuLaunchKernel through java.lang.foreign;
     * returns the driver's CUresult.
     */
    private int launchForeign(KernelFunction f, String kernel, long gridX, long gridY, long gridZ, int block,
            int sharedBytes, Object[] args) {
        DriverLaunch.Arguments a = ARGUMENTS.get().arguments;
        int bytes = pack(a.buffer, kernel, args);
        return a.launch(f.address(), gridX, gridY, gridZ, block, sharedBytes, stream.address(), bytes);
    }

    /**
     * Writes {@code args} into {@code buf} as the C ABI lays out the kernel's parameters (each at its natural
     * alignment); returns the parameters' extent in bytes (exactly: the driver rejects a padded size).
     */
    static int pack(java.nio.ByteBuffer buf, String kernel, Object[] args) {
        buf.clear();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case Integer v -> align(buf, 4).putInt(v);
                case Float v -> align(buf, 4).putFloat(v);
                case Long v -> align(buf, 8).putLong(v);
                case Double v -> align(buf, 8).putDouble(v);
                case long[] v -> {
                    align(buf, 8);
                    for (long x : v) {
                        buf.putLong(x);
                    }
                }
                case int[] v -> {
                    align(buf, 4);
                    for (int x : v) {
                        buf.putInt(x);
                    }
                }
                // its offset in the parameter bank is the driver's, not the C layout's: launch3 passes one pointer
                // per argument when a map is among them, so it never reaches here
                case TensorMap v -> throw new IllegalArgumentException("kernel " + kernel + ": the CUtensorMap at "
                        + "position " + i + " cannot be packed into a parameter buffer (the driver places it at its "
                        + "own offset); pass one pointer per argument");
                default -> throw unsupportedArgument(kernel, args[i], i);
            }
        }
        return buf.position();
    }

    private static java.nio.ByteBuffer align(java.nio.ByteBuffer buf, int alignment) {
        int p = buf.position();
        buf.position((p + alignment - 1) / alignment * alignment);
        return buf;
    }

    private static IllegalArgumentException unsupportedArgument(String kernel, Object arg, int position) {
        return new IllegalArgumentException("kernel " + kernel + ": unsupported argument type "
                + arg.getClass().getSimpleName() + " at position " + position);
    }

    /**
     * A thread's reusable launch arguments: the native buffer ({@link DriverLaunch.Arguments}) and, for the JCuda
     * packed path, the {@code extra} array of JCuda pointers to it.
     */
    private static final class ArgumentBuffer {
        final DriverLaunch.Arguments arguments = new DriverLaunch.Arguments();
        final long[] size = {0};
        final Pointer extra = Pointer.to(new Pointer[] {jcuda.driver.JCudaDriver.CU_LAUNCH_PARAM_BUFFER_POINTER,
                Pointer.to(arguments.buffer), jcuda.driver.JCudaDriver.CU_LAUNCH_PARAM_BUFFER_SIZE, Pointer.to(size),
                jcuda.driver.JCudaDriver.CU_LAUNCH_PARAM_END});
    }

    /** A CUfunction whose raw handle is readable, for {@link DriverLaunch}. */
    static final class KernelFunction extends CUfunction {
        long address() {
            return getNativePointer();
        }
    }

    private static final ThreadLocal<ArgumentBuffer> ARGUMENTS = ThreadLocal.withInitial(ArgumentBuffer::new);

    // -----------------------------------------------------------------------------------------------------------------
    // copies: staged through pinned host buffers, asynchronous on this device's stream (so ordered with the kernels)

    /** Device bytes at {@code dst} = the first {@code bytes} bytes of the primitive array {@code src}. */
    void copyToDevice(CUdeviceptr dst, Object src, long bytes) {
        copyToDevice(dst, src, 0, bytes);
    }

    /** The first {@code bytes} bytes of the primitive array {@code dst} = device bytes at {@code src}. */
    void copyToHost(Object dst, CUdeviceptr src, long bytes) {
        copyToHost(dst, 0, src, bytes);
    }

    /** Device bytes at {@code dst} = bytes [srcOffset, srcOffset + bytes) of the primitive array {@code src}. */
    void copyToDevice(CUdeviceptr dst, Object src, long srcOffset, long bytes) {
        CudaGraph graph = capturing;
        if (graph != null) {
            graph.recordUpload(dst, src, srcOffset, bytes); // a constant of the graph (see CudaGraph)
            return;
        }
        staging.upload(dst, src, srcOffset, bytes);
    }

    /** Bytes [dstOffset, dstOffset + bytes) of the primitive array {@code dst} = device bytes at {@code src}. */
    void copyToHost(Object dst, long dstOffset, CUdeviceptr src, long bytes) {
        requireNotCapturing("a device-to-host copy of " + bytes + " bytes (a host read of a device value)");
        staging.download(dst, dstOffset, src, bytes);
    }

    /** Page-locked host bytes this device holds for staging copies. */
    public long pinnedBytes() {
        return staging.pinnedBytes();
    }

    /** Host↔device copies made so far (each staged through the pinned buffers). */
    public long stagedCopies() {
        return staging.stagedCopies();
    }

    // -----------------------------------------------------------------------------------------------------------------
    // graph capture (see CudaGraph)

    void beginCapture(CudaGraph graph) {
        if (capturing != null) {
            throw new IllegalStateException("a CUDA graph is already being captured on " + this);
        }
        capturing = graph;
    }

    void endCapture(CudaGraph graph) {
        if (capturing == graph) {
            capturing = null;
        }
    }

    /** Whether a CUDA graph is being captured on this device's stream. */
    public boolean isCapturing() {
        return capturing != null;
    }

    /** Fails with a {@link ai.fulgur.ops.GraphCaptureException} naming {@code what} while a graph is captured. */
    void requireNotCapturing(String what) {
        if (capturing != null) {
            throw CudaGraph.notCapturable(what);
        }
    }

    @Override
    public String toString() {
        return "cuda:" + index + " " + name + " (sm_" + computeCapability() + ", " + multiprocessors + " SMs)";
    }
}
