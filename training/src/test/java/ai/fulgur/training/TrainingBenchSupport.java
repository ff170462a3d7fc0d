package ai.fulgur.training;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.fulgur.autograd.Autocast;
import ai.fulgur.training.precision.Precision;
import java.lang.reflect.Method;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * What the training benchmarks (GPT-2, BERT) share: one step on DJL's Trainer under autocast without host reads, a
 * step timed per phase, the CUDA caching allocator's statistics, argument parsing and JSON rows.
 */
public final class TrainingBenchSupport {
    private TrainingBenchSupport() {
    }

    /** One training step; returns the loss when {@code read} (a device sync), else NaN. */
    public static float step(Trainer trainer, Model m, Device device, NDArray inputs, NDArray labels,
            Precision precision, boolean read) {
        try (NDManager scope = m.getNDManager().newSubManager(device)) {
            NDArray loss = forwardBackward(trainer, scope, inputs, labels, precision);
            trainer.step();
            return read ? loss.getFloat() : Float.NaN;
        }
    }

    /**
     * A step's forward (under {@code precision}'s autocast) and backward, the optimizer not yet run; returns the loss.
     * The inputs are copied into {@code scope} first, so every activation derived from them dies with it.
     */
    public static NDArray forwardBackward(Trainer trainer, NDManager scope, NDArray inputs, NDArray labels,
            Precision precision) {
        NDArray x = inputs.duplicate();
        x.attach(scope);
        NDArray y = labels.duplicate();
        y.attach(scope);
        NDArray loss;
        try (GradientCollector gc = trainer.newGradientCollector()) {
            try (Autocast.Scope s = precision.autocast()) {
                NDList predictions = trainer.forward(new NDList(x), new NDList(y));
                loss = trainer.getLoss().evaluate(new NDList(y), predictions);
            }
            gc.backward(loss);
        }
        return loss;
    }

    /** {@link #timeGraphSteps} when {@code cudaGraph}, else {@link #timeSteps}: the benchmarks' {@code --cuda-graph}. */
    public static void measure(boolean cudaGraph, Trainer trainer, Model m, Device device, NDArray inputs,
            NDArray labels, Precision precision, ai.fulgur.training.optim.ResumableAdamW adam, int warmup, int steps,
            double flopsPerToken, double peakTflops, ai.fulgur.ops.Device opsDevice, Map<String, Object> row)
            throws ReflectiveOperationException {
        if (cudaGraph) {
            timeGraphSteps(trainer, m, device, inputs, labels, precision, adam, warmup, steps, flopsPerToken,
                    peakTflops, opsDevice, row);
        } else {
            timeSteps(trainer, m, device, inputs, labels, precision, warmup, steps, flopsPerToken, peakTflops,
                    opsDevice, row);
        }
    }

    /**
     * The measurement both benchmarks make: {@code warmup} steps, each synced (the first one's loss kept), then
     * {@code steps} steps timed between two device syncs (the loss read after the last one is the closing sync);
     * adds to {@code row} the losses, ms per step, tokens/s, TFLOP/s and MFU (from {@code flopsPerToken} and the card's
     * {@code peakTflops}), and the allocator's peak and statistics ({@code opsDevice} null: CPU, none).
     */
    public static void timeSteps(Trainer trainer, Model m, Device device, NDArray inputs, NDArray labels,
            Precision precision, int warmup, int steps, double flopsPerToken, double peakTflops,
            ai.fulgur.ops.Device opsDevice, Map<String, Object> row) throws ReflectiveOperationException {
        resetPeak(opsDevice);
        float first = Float.NaN;
        for (int s = 0; s < warmup; s++) {
            float l = step(trainer, m, device, inputs, labels, precision, true);
            if (s == 0) {
                first = l;
            }
        }
        long t0 = System.nanoTime();
        float last = Float.NaN;
        for (int s = 0; s < steps; s++) {
            last = step(trainer, m, device, inputs, labels, precision, s == steps - 1);
        }
        double seconds = (System.nanoTime() - t0) * 1e-9;
        double tokensPerSecond = (double) inputs.size() * steps / seconds;
        row.put("warmup", warmup);
        row.put("steps", steps);
        row.put("first_loss", first);
        row.put("last_loss", last);
        row.put("step_ms", seconds * 1e3 / steps);
        row.put("tokens_per_s", tokensPerSecond);
        row.put("flops_per_token", flopsPerToken);
        row.put("tflops", flopsPerToken * tokensPerSecond / 1e12);
        row.put("mfu", flopsPerToken * tokensPerSecond / (peakTflops * 1e12));
        row.put("peak_bytes", peakBytes(opsDevice));
        row.put("gc_threshold", System.getProperty("fulgur.cuda.gcThreshold", "default"));
        row.put("gc_headroom", System.getProperty("fulgur.cuda.gcHeadroom", "default"));
        row.put("allocator_collections", statistic(opsDevice, "allocatorCollections"));
        row.put("driver_allocations", statistic(opsDevice, "driverAllocations"));
    }

    /**
     * {@link #timeSteps} with CUDA graph replay: {@code warmup} eager steps, then one step captured (forward, loss,
     * backward, AdamW reading its step scalars from the device), then {@code steps} timed replays, each preceded by
     * the copy of its AdamW scalars into the graph's input array, as the training loop does. Adds capture_ms and
     * the graph pool's bytes.
     */
    public static void timeGraphSteps(Trainer trainer, Model m, Device device, NDArray inputs, NDArray labels,
            Precision precision, ai.fulgur.training.optim.ResumableAdamW adam, int warmup, int steps,
            double flopsPerToken, double peakTflops, ai.fulgur.ops.Device opsDevice, Map<String, Object> row)
            throws ReflectiveOperationException {
        if (opsDevice == null) {
            throw new IllegalArgumentException("--cuda-graph needs a GPU device, got " + device
                    + "; drop the flag or pass --device gpu");
        }
        resetPeak(opsDevice);
        float first = Float.NaN;
        for (int s = 0; s < Math.max(1, warmup); s++) {
            float l = step(trainer, m, device, inputs, labels, precision, true);
            if (s == 0) {
                first = l;
            }
        }
        try (NDManager keep = m.getNDManager().newSubManager(device)) {
            NDArray scalars = keep.zeros(new ai.djl.ndarray.types.Shape(3), ai.djl.ndarray.types.DataType.FLOAT32);
            adam.readStepScalarsFrom(scalars);
            NDArray[] loss = new NDArray[1];
            int t = adam.step() + 1;
            long c0 = System.nanoTime();
            try (ai.fulgur.ops.DeviceGraph graph = ai.fulgur.ops.Backends.of(opsDevice).captureGraph(opsDevice,
                    () -> {
                        try (NDManager scope = m.getNDManager().newSubManager(device)) {
                            NDArray l = forwardBackward(trainer, scope, inputs, labels, precision);
                            trainer.step();
                            loss[0] = l.duplicate();
                            loss[0].attach(keep);
                        }
                    })) {
                double captureMs = (System.nanoTime() - c0) * 1e-6;
                replay(graph, adam, scalars, keep, t++); // the captured step itself, then one more untimed
                replay(graph, adam, scalars, keep, t++);
                loss[0].getFloat();
                long t0 = System.nanoTime();
                for (int s = 0; s < steps; s++) {
                    replay(graph, adam, scalars, keep, t++);
                }
                float last = loss[0].getFloat();
                double seconds = (System.nanoTime() - t0) * 1e-9;
                double tokensPerSecond = (double) inputs.size() * steps / seconds;
                row.put("cuda_graph", "true");
                row.put("warmup", warmup);
                row.put("steps", steps);
                row.put("first_loss", first);
                row.put("last_loss", last);
                row.put("capture_ms", captureMs);
                row.put("step_ms", seconds * 1e3 / steps);
                row.put("tokens_per_s", tokensPerSecond);
                row.put("flops_per_token", flopsPerToken);
                row.put("tflops", flopsPerToken * tokensPerSecond / 1e12);
                row.put("mfu", flopsPerToken * tokensPerSecond / (peakTflops * 1e12));
                row.put("graph_pool_bytes", graph.poolBytes());
                row.put("peak_bytes", peakBytes(opsDevice));
                row.put("driver_allocations", statistic(opsDevice, "driverAllocations"));
            } finally {
                adam.readStepScalarsFrom(null);
            }
        }
    }

    private static void replay(ai.fulgur.ops.DeviceGraph graph, ai.fulgur.training.optim.ResumableAdamW adam,
            NDArray scalars, NDManager manager, int t) {
        try (NDManager scope = manager.newSubManager()) {
            scope.create(adam.stepScalars(t)).copyTo(scalars);
        }
        graph.replay();
    }

    /** One step with a sync (a scalar read) after forward, backward and the optimizer: ms of each. */
    public static Map<String, Object> phases(Trainer trainer, Model m, Device device, NDArray inputs,
            NDArray labels, Precision precision) {
        Map<String, Object> out = new LinkedHashMap<>();
        try (NDManager scope = m.getNDManager().newSubManager(device)) {
            NDArray x = inputs.duplicate();
            x.attach(scope);
            NDArray y = labels.duplicate();
            y.attach(scope);
            long t0 = System.nanoTime();
            NDArray loss;
            try (GradientCollector gc = trainer.newGradientCollector()) {
                try (Autocast.Scope s = precision.autocast()) {
                    NDList predictions = trainer.forward(new NDList(x), new NDList(y));
                    loss = trainer.getLoss().evaluate(new NDList(y), predictions);
                }
                loss.getFloat();
                long t1 = System.nanoTime();
                gc.backward(loss);
                loss.getFloat(); // the stream is in order: this waits for backward too
                long t2 = System.nanoTime();
                out.put("forward_ms", (t1 - t0) * 1e-6);
                out.put("backward_ms", (t2 - t1) * 1e-6);
            }
            long t2 = System.nanoTime();
            trainer.step();
            loss.getFloat(); // queued after the update: waits for it
            out.put("optimizer_ms", (System.nanoTime() - t2) * 1e-6);
        }
        return out;
    }

    /**
     * {@code steps} more steps (unsynced, as timed) inside a {@code ai.fulgur.cuda.KernelProfiler} window (element-wise
     * rows split by operation, dtypes and size when {@code shapes}): prints its
     * table (the {@code limit} largest names) to standard error and adds the window's ms per step, the profiled kernel
     * time per step and the driver allocations to {@code row}.
     */
    public static void profile(Trainer trainer, Model m, Device device, NDArray inputs, NDArray labels,
            Precision precision, int steps, int limit, boolean shapes, ai.fulgur.ops.Device opsDevice,
            Map<String, Object> row) throws ReflectiveOperationException {
        Class<?> profiler = Class.forName("ai.fulgur.cuda.KernelProfiler");
        Object cuda = cudaDevice(opsDevice);
        profiler.getMethod("start", cuda.getClass(), boolean.class).invoke(null, cuda, shapes);
        Object report;
        try {
            for (int s = 0; s < steps; s++) {
                step(trainer, m, device, inputs, labels, precision, false);
            }
        } finally {
            report = profiler.getMethod("stop").invoke(null);
        }
        String table = (String) report.getClass().getMethod("format", int.class).invoke(report, limit);
        System.err.println("== kernel profile, " + steps + " steps (device time summed over them)");
        System.err.print(table);
        double window = (Double) report.getClass().getMethod("windowMillis").invoke(report);
        double kernels = (Double) report.getClass().getMethod("profiledMillis").invoke(report);
        row.put("profile_steps", steps);
        row.put("profile_window_ms_per_step", window / steps);
        row.put("profile_kernel_ms_per_step", kernels / steps);
        row.put("profile_driver_allocations", report.getClass().getMethod("driverAllocations").invoke(report));
    }

    // the caching allocator's statistics live in the cuda module, which the training module does not depend on;
    // the benchmark runs with every module on the class path, so it reaches them by name
    private static Object cudaDevice(ai.fulgur.ops.Device d) throws ReflectiveOperationException {
        Class<?> backend = Class.forName("ai.fulgur.cuda.CudaBackend");
        return backend.getMethod("device", ai.fulgur.ops.Device.class).invoke(null, d);
    }

    public static void resetPeak(ai.fulgur.ops.Device d) throws ReflectiveOperationException {
        if (d == null) {
            return;
        }
        Object cuda = cudaDevice(d);
        cuda.getClass().getMethod("resetPeak").invoke(cuda);
    }

    public static long peakBytes(ai.fulgur.ops.Device d) {
        return statistic(d, "peakBytes");
    }

    /** A long statistic of the CUDA device (peakBytes, driverAllocations, allocatorCollections), or -1. */
    public static long statistic(ai.fulgur.ops.Device d, String name) {
        if (d == null) {
            return -1;
        }
        try {
            Object cuda = cudaDevice(d);
            Method m = cuda.getClass().getMethod(name);
            return (Long) m.invoke(cuda);
        } catch (ReflectiveOperationException e) {
            return -1;
        }
    }

    public static Map<String, String> parse(String[] argv) {
        Map<String, String> a = new LinkedHashMap<>();
        for (int i = 0; i < argv.length; i++) {
            if (!argv[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --name [value], got '" + argv[i] + "'");
            }
            String key = argv[i].substring(2);
            if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
                a.put(key, argv[++i]);
            } else {
                a.put(key, "true");
            }
        }
        return a;
    }

    public static String json(Map<String, Object> row) {
        StringBuilder sb = new StringBuilder("{");
        for (Map.Entry<String, Object> e : row.entrySet()) {
            if (sb.length() > 1) {
                sb.append(", ");
            }
            sb.append('"').append(e.getKey()).append("\": ");
            Object v = e.getValue();
            if (v instanceof String s) {
                sb.append('"').append(s).append('"');
            } else if (v instanceof Double d) {
                sb.append(Double.isFinite(d) ? String.format(Locale.ROOT, "%.6g", d) : "null");
            } else if (v instanceof Float f) {
                sb.append(Float.isFinite(f) ? String.format(Locale.ROOT, "%.6g", f) : "null");
            } else {
                sb.append(v);
            }
        }
        return sb.append('}').toString();
    }
}
