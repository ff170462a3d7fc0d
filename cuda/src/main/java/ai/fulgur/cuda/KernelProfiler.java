package ai.fulgur.cuda;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;

/**
 * Device time per kernel, measured with CUDA events: between {@link #start} and {@link #stop}, every kernel launch,
 * cuBLASLt matmul and device-side copy or fill on the profiled device's stream is bracketed by two events (from a
 * pool reused across windows), and {@link #stop} sums the elapsed times by name, as torch.profiler's
 * {@code key_averages()} table does. Only one device is profiled at a time; work on other devices is not counted.
 *
 * <p>Off by default; the launch path then pays one read of a static field. {@code -Dfulgur.cuda.profile=true}
 * profiles the whole process from the first device and prints the table to standard error when the JVM exits.
 *
 * <p>The events add a few microseconds of host time per launch and keep the device from overlapping back-to-back
 * kernels' tails, so the profiled window runs somewhat slower than an unprofiled one; per-kernel times are what the
 * table is for, not the step time. Open no window while the stream is being captured into a CUDA graph: the events
 * would be captured with the work.
 */
public final class KernelProfiler {
    /** Read by every launch: false unless a window is open. */
    static volatile boolean active;

    private static KernelProfiler current;
    /** Whether the open window splits element-wise kernels' rows by operation, dtypes and size. */
    private static volatile boolean withShapes;
    /** What the next launch's row name gets appended (set by {@link #detail}, used once). */
    private static String pendingDetail;

    private final CudaDevice device;
    private final CUevent windowStart;
    private final CUevent windowEnd;
    private final ArrayDeque<CUevent> pool = new ArrayDeque<>();
    private final List<Span> spans = new ArrayList<>();
    private long driverAllocationsAtStart;
    private String openName;
    private CUevent openStart;

    /** One bracketed piece of device work. */
    private record Span(String name, CUevent start, CUevent end) {}

    private KernelProfiler(CudaDevice device) {
        this.device = device;
        device.enter();
        this.windowStart = newEvent();
        this.windowEnd = newEvent();
    }

    /** Profiles from the first device when {@code -Dfulgur.cuda.profile=true}; called once per device created. */
    static void startIfRequested(CudaDevice device) {
        if (!Boolean.getBoolean("fulgur.cuda.profile")) {
            return;
        }
        synchronized (KernelProfiler.class) {
            if (current != null) {
                return;
            }
            start(device);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (active) {
                System.err.println(stop().format(40));
            }
        }, "fulgur-kernel-profile"));
    }

    /**
     * Opens a profiling window on {@code device}'s stream (its start event is queued behind the work already
     * launched). Throws if a window is already open.
     */
    public static synchronized void start(CudaDevice device) {
        start(device, false);
    }

    /**
     * {@link #start(CudaDevice)}; with {@code shapes}, element-wise kernels' rows are split by what they compute
     * (operation, dtypes, element count, as torch.profiler's {@code group_by_input_shape}), so a generic kernel name
     * such as {@code copy_f32} shows which casts and copies the time goes to.
     */
    public static synchronized void start(CudaDevice device, boolean shapes) {
        if (active) {
            throw new IllegalStateException("KernelProfiler.start: a window is already open on " + current.device
                    + "; call stop() first");
        }
        if (current == null || current.device != device) {
            current = new KernelProfiler(device);
        }
        current.open();
        withShapes = shapes;
        pendingDetail = null;
        active = true;
    }

    /** Closes the window: waits for the device, then returns the time of every bracketed piece of work by name. */
    public static synchronized Report stop() {
        if (!active) {
            throw new IllegalStateException("KernelProfiler.stop() without start()");
        }
        active = false;
        return current.close();
    }

    /** Whether a window is open. */
    public static boolean isActive() {
        return active;
    }

    private void open() {
        device.enter();
        spans.clear();
        openName = null;
        driverAllocationsAtStart = device.driverAllocations();
        cuEventRecord(windowStart, device.stream());
    }

    private Report close() {
        device.enter();
        cuEventRecord(windowEnd, device.stream());
        cuEventSynchronize(windowEnd);
        float[] ms = {0};
        cuEventElapsedTime(ms, windowStart, windowEnd);
        double windowMillis = ms[0];
        Map<String, double[]> byName = new LinkedHashMap<>(); // name -> {calls, total ms}
        for (Span s : spans) {
            cuEventElapsedTime(ms, s.start(), s.end());
            double[] row = byName.computeIfAbsent(s.name(), k -> new double[2]);
            row[0]++;
            row[1] += ms[0];
            pool.push(s.start());
            pool.push(s.end());
        }
        spans.clear();
        List<Row> rows = new ArrayList<>();
        byName.forEach((name, r) -> rows.add(new Row(name, (long) r[0], r[1])));
        rows.sort(Comparator.comparingDouble(Row::totalMillis).reversed());
        return new Report(rows, windowMillis, device.driverAllocations() - driverAllocationsAtStart);
    }

    // -----------------------------------------------------------------------------------------------------------------
    // the hooks the launch paths call, only when {@link #active}

    /** Whether launches should describe themselves with {@link #detail} (a window with shapes is open). */
    static boolean wantsDetail() {
        return active && withShapes;
    }

    /** Appends {@code text} to the row name of the next launch on this thread's profiled device. */
    static synchronized void detail(String text) {
        pendingDetail = text;
    }

    /** Records the start event of {@code name}'s work on {@code device}'s stream (ignored for other devices). */
    static void before(CudaDevice device, String name) {
        KernelProfiler p = current;
        if (p == null || p.device != device) {
            return;
        }
        synchronized (KernelProfiler.class) {
            if (!active) {
                return;
            }
            p.openName = pendingDetail == null ? name : name + " " + pendingDetail;
            pendingDetail = null;
            p.openStart = p.take();
            cuEventRecord(p.openStart, device.stream());
        }
    }

    /** Records the end event of the work {@link #before} opened on {@code device}. */
    static void after(CudaDevice device) {
        KernelProfiler p = current;
        if (p == null || p.device != device) {
            return;
        }
        synchronized (KernelProfiler.class) {
            if (!active || p.openName == null) {
                return;
            }
            CUevent end = p.take();
            cuEventRecord(end, device.stream());
            p.spans.add(new Span(p.openName, p.openStart, end));
            p.openName = null;
            p.openStart = null;
        }
    }

    private CUevent take() {
        CUevent e = pool.poll();
        return e != null ? e : newEvent();
    }

    private static CUevent newEvent() {
        CUevent e = new CUevent();
        cuEventCreate(e, CUevent_flags.CU_EVENT_DEFAULT);
        return e;
    }

    // -----------------------------------------------------------------------------------------------------------------

    /** One name's work in a window: number of calls and summed device milliseconds. */
    public record Row(String name, long calls, double totalMillis) {
        public double meanMicros() {
            return totalMillis * 1e3 / calls;
        }
    }

    /**
     * A closed window: rows by total time (largest first), the window's own event-timed length, and the
     * {@code cuMemAlloc} calls made inside it.
     */
    public record Report(List<Row> rows, double windowMillis, long driverAllocations) {
        public Report {
            rows = List.copyOf(rows);
        }

        /** Summed device time of every bracketed piece of work. */
        public double profiledMillis() {
            return rows.stream().mapToDouble(Row::totalMillis).sum();
        }

        /** Launches of every name. */
        public long calls() {
            return rows.stream().mapToLong(Row::calls).sum();
        }

        /** The row called {@code name}, or null. */
        public Row row(String name) {
            return rows.stream().filter(r -> r.name().equals(name)).findFirst().orElse(null);
        }

        /** The table: the {@code limit} largest rows, then a total line and the window. */
        public String format(int limit) {
            StringBuilder out = new StringBuilder();
            int width = Math.max(40, rows.stream().limit(limit).mapToInt(r -> r.name().length()).max().orElse(0));
            out.append(String.format(Locale.ROOT, "%-" + width + "s %8s %11s %10s %7s%n", "name", "calls",
                    "total ms", "mean us", "% win"));
            for (Row r : rows.subList(0, Math.min(limit, rows.size()))) {
                out.append(String.format(Locale.ROOT, "%-" + width + "s %8d %11.3f %10.2f %6.1f%%%n", r.name(),
                        r.calls(), r.totalMillis(), r.meanMicros(), 100 * r.totalMillis() / windowMillis));
            }
            if (rows.size() > limit) {
                double rest = rows.subList(limit, rows.size()).stream().mapToDouble(Row::totalMillis).sum();
                long restCalls = rows.subList(limit, rows.size()).stream().mapToLong(Row::calls).sum();
                out.append(String.format(Locale.ROOT, "%-" + width + "s %8d %11.3f %10s %6.1f%%%n",
                        "(" + (rows.size() - limit) + " more names)", restCalls, rest, "",
                        100 * rest / windowMillis));
            }
            out.append(String.format(Locale.ROOT, "%-" + width + "s %8d %11.3f %10s %6.1f%%%n", "all profiled work",
                    calls(), profiledMillis(), "", 100 * profiledMillis() / windowMillis));
            out.append(String.format(Locale.ROOT, "window %.3f ms (event-timed), driver allocations %d%n",
                    windowMillis, driverAllocations));
            return out.toString();
        }
    }
}
