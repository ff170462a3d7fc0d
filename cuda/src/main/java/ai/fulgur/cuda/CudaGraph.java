package ai.fulgur.cuda;

import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemHostAlloc;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import ai.fulgur.ops.DeviceGraph;
import ai.fulgur.ops.GraphCaptureException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstreamCaptureMode;

/**
 * A CUDA graph of work recorded on a device's stream by stream capture, replayed with one {@code cuGraphLaunch}:
 * the host's cost of a training step's hundreds of launches (JCuda, argument packing, allocation) is paid once, at
 * capture, instead of every step.
 *
 * <p>Capture runs the Java code once with the stream in capture mode (relaxed: the allocator may still call
 * cuMemAlloc): kernels and copies are recorded, not run. What keeps the recording correct:
 * <ul>
 *   <li>memory: allocations come from a {@link GraphMemoryPool} the graph owns until {@link #close()}, so the
 *       addresses the recorded kernels use are nobody else's between replays;
 *   <li>host reads, stream syncs, cuBLASLt autotuning and random-number draws (whose Philox offset would be the same
 *       at every replay) fail at once with a {@link GraphCaptureException} naming the operation and its caller;
 *   <li>an upload during capture (a constant such as a scalar operand) is recorded as a copy from a pinned buffer the
 *       graph keeps, so every replay copies the value that was uploaded. Values that change per step must instead be
 *       written into device tensors before each replay (inputs, the optimizer's step scalars).
 * </ul>
 */
public final class CudaGraph implements DeviceGraph {
    /** Pinned bytes reserved up front for uploads recorded during capture. */
    private static final long CONSTANT_ARENA_BYTES = 256 << 10;

    private final CudaDevice device;
    private final GraphMemoryPool pool = new GraphMemoryPool();
    private final CUgraph graph = new CUgraph();
    private final CUgraphExec exec = new CUgraphExec();
    private final List<Pointer> pinned = new ArrayList<>();
    private MemorySegment arena;
    private long arenaUsed;
    private long constantUploads;
    private boolean captured;
    private boolean instantiated;
    private long replays;
    private boolean closed;

    private CudaGraph(CudaDevice device) {
        this.device = device;
    }

    /** Records {@code work} on {@code device} (a CUDA device) into a new graph without running it. */
    public static CudaGraph capture(ai.fulgur.ops.Device device, Runnable work) {
        return capture(CudaBackend.device(device), work);
    }

    static CudaGraph capture(CudaDevice device, Runnable work) {
        device.enter();
        // the eager steps' garbage comes back now, not during capture (where it would be held by the graph)
        device.allocator().collectGarbageBeforeCapture();
        CudaGraph g = new CudaGraph(device);
        g.arena = g.pinnedSegment(CONSTANT_ARENA_BYTES);
        device.allocator().beginCapture(g.pool);
        device.beginCapture(g);
        boolean capturing = false;
        Throwable failure = null;
        try {
            cuStreamBeginCapture(device.stream(), CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_RELAXED);
            capturing = true;
            work.run();
        } catch (Throwable t) {
            failure = t;
        }
        try {
            if (capturing) {
                cuStreamEndCapture(device.stream(), g.graph);
                g.captured = true;
            }
        } catch (jcuda.CudaException e) {
            if (failure == null) {
                failure = new GraphCaptureException("CUDA graph capture was invalidated by an operation that is not "
                        + "allowed during capture (" + e.getMessage() + "); run with -Dfulgur.cuda.sync=false and "
                        + "look for a synchronising call in the captured code", e);
            }
        } finally {
            device.endCapture(g);
            device.allocator().endCapture(g.pool);
        }
        if (failure == null) {
            try {
                cuGraphInstantiate(g.exec, g.graph, 0);
                g.instantiated = true;
            } catch (jcuda.CudaException e) {
                failure = new GraphCaptureException("cuGraphInstantiate failed: " + e.getMessage(), e);
            }
        }
        if (failure != null) {
            g.close();
            if (failure instanceof RuntimeException r) {
                throw r;
            }
            if (failure instanceof Error e) {
                throw e;
            }
            throw new GraphCaptureException("CUDA graph capture failed: " + failure, failure);
        }
        return g;
    }

    @Override
    public void replay() {
        if (closed) {
            throw new IllegalStateException("replay() after close(): this CUDA graph was freed");
        }
        device.enter();
        cuGraphLaunch(exec, device.stream());
        replays++;
    }

    @Override
    public long replays() {
        return replays;
    }

    @Override
    public long poolBytes() {
        return device.allocator().poolBytes(pool);
    }

    /** Uploads recorded during capture (copies of constants from the graph's pinned memory). */
    public long constantUploads() {
        return constantUploads;
    }

    /**
     * During capture: records device bytes [dst, dst + bytes) = bytes [srcOffset, srcOffset + bytes) of the Java
     * array {@code src}, copied now into pinned memory this graph keeps, so each replay copies the same values.
     */
    void recordUpload(CUdeviceptr dst, Object src, long srcOffset, long bytes) {
        if (bytes <= 0) {
            return;
        }
        long at = (arenaUsed + 15) & ~15L;
        MemorySegment target;
        if (at + bytes <= arena.byteSize()) {
            target = arena.asSlice(at, bytes);
            arenaUsed = at + bytes;
        } else {
            target = pinnedSegment(bytes);
        }
        MemorySegment.copy(PinnedStaging.heap(src, srcOffset + bytes), srcOffset, target, 0, bytes);
        cuMemcpyHtoDAsync(dst, Pointer.to(target.asByteBuffer()), bytes, device.stream());
        constantUploads++;
    }

    private MemorySegment pinnedSegment(long bytes) {
        Pointer p = new Pointer();
        cuMemHostAlloc(p, bytes, 0);
        pinned.add(p);
        return MemorySegment.ofBuffer(p.getByteBuffer(0, bytes));
    }

    /**
     * The error for {@code what}, found during capture: names the operation and the first caller outside the CUDA
     * backend and the kernel facades, where the step's code asked for it.
     */
    static GraphCaptureException notCapturable(String what) {
        // the op: the outermost kernel-facade frame (ai.fulgur.ops) above this backend's frames; the caller: the first
        // frame past both (a test class in this package counts as a caller)
        java.util.List<StackWalker.StackFrame> frames = StackWalker.getInstance().walk(s -> s.limit(64).toList());
        String op = null;
        String caller = "unknown";
        for (StackWalker.StackFrame f : frames) {
            String c = f.getClassName();
            boolean backend = c.startsWith("ai.fulgur.cuda.") && !c.endsWith("Test") && !c.contains("Test$");
            if (backend) {
                continue;
            }
            if (c.startsWith("ai.fulgur.ops.")) {
                op = c + "." + f.getMethodName();
                continue;
            }
            caller = c + "." + f.getMethodName() + "(" + f.getFileName() + ":" + f.getLineNumber() + ")";
            if (op == null) {
                op = c + "." + f.getMethodName();
            }
            break;
        }
        return new GraphCaptureException("CUDA graph capture: " + what + " in " + op + " cannot be recorded into a "
                + "graph (called from " + caller + "); keep the captured step free of host reads and syncs (read "
                + "results after replay), or run this step eagerly");
    }

    /** Waits for queued replays, frees the graph and its pinned constants, and returns its pool to the allocator. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        device.enter();
        cuStreamSynchronize(device.stream());
        if (instantiated) {
            cuGraphExecDestroy(exec);
        }
        if (captured) {
            cuGraphDestroy(graph);
        }
        for (Pointer p : pinned) {
            cuMemFreeHost(p);
        }
        pinned.clear();
        device.allocator().closePool(pool);
    }
}
