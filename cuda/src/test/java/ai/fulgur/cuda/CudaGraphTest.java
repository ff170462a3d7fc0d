package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.GraphCaptureException;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.optim.AdamParams;
import ai.fulgur.ops.optim.Optim;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link CudaGraph}: a replay recomputes from the inputs' current values, temporaries come from the graph's pool
 * and the allocator's statistics stay put across replays, a host read or a sync during capture fails naming the
 * operation, and AdamW with per-step scalars read from the device matches the CPU reference step after step.
 */
class CudaGraphTest extends GpuTest {
    private static final int N = 1000;

    private static float[] random(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    /** y = exp(x · 0.5) + x, through two temporaries freed inside the capture. */
    private static void recordedWork(Tensor x, Tensor y) {
        Tensor half = Elementwise.mulScalar(x, 0.5);
        Tensor e = Elementwise.exp(half);
        Elementwise.assign(y, Elementwise.add(e, x));
        half.storage().close();
        e.storage().close();
    }

    @Test
    void replayComputesFromTheInputsCurrentValues() {
        Random r = new Random(1);
        Tensor x = Tensor.of(random(r, N), N).to(GPU);
        Tensor y = Tensor.zeros(ai.fulgur.ops.Shape.of(N), DType.F32, GPU);
        try (CudaGraph g = CudaGraph.capture(GPU, () -> recordedWork(x, y))) {
            for (int step = 0; step < 5; step++) {
                float[] in = random(r, N);
                Elementwise.assign(x, Tensor.of(in, N).to(GPU));
                g.replay();
                float[] out = y.toFloatArray();
                for (int i = 0; i < N; i++) {
                    double want = Math.exp(in[i] * 0.5) + in[i];
                    assertEquals(want, out[i], 1e-5 + 1e-6 * Math.abs(want), "replay " + step + " element " + i);
                }
            }
            assertEquals(5, g.replays());
        }
    }

    @Test
    void thePoolIsReusedAcrossReplaysAndTheAllocatorStaysPut() {
        CudaDevice d = CudaBackend.device(GPU);
        Tensor x = Tensor.of(random(new Random(2), N), N).to(GPU);
        Tensor y = Tensor.zeros(ai.fulgur.ops.Shape.of(N), DType.F32, GPU);
        long[] addresses = new long[2];
        try (CudaGraph g = CudaGraph.capture(GPU, () -> {
            recordedWork(x, y);
            // a block freed earlier in this capture is handed out again within it
            Tensor a = Tensor.zeros(ai.fulgur.ops.Shape.of(1 << 18), DType.F32, GPU);
            addresses[0] = ((CudaStorage) a.storage()).address(0);
            a.storage().close();
            Tensor b = Tensor.zeros(ai.fulgur.ops.Shape.of(1 << 18), DType.F32, GPU);
            addresses[1] = ((CudaStorage) b.storage()).address(0);
            b.storage().close();
        })) {
            assertEquals(addresses[0], addresses[1], "a block freed during capture is reused by the same capture");
            assertTrue(g.poolBytes() >= 1 << 20, "the pool holds the capture's blocks: " + g.poolBytes() + " B");
            g.replay();
            d.synchronize();
            long pool = g.poolBytes();
            long reserved = d.reservedBytes();
            long allocated = d.allocatedBytes();
            long mallocs = d.driverAllocations();
            for (int i = 0; i < 20; i++) {
                g.replay();
            }
            d.synchronize();
            assertEquals(pool, g.poolBytes(), "pool bytes after 21 replays");
            assertEquals(reserved, d.reservedBytes(), "reserved bytes after 21 replays");
            assertEquals(allocated, d.allocatedBytes(), "allocated bytes after 21 replays");
            assertEquals(mallocs, d.driverAllocations(), "cuMemAlloc calls after 21 replays");
            // outside capture, nothing is served from the pool: a new block of the pool's size class is not its
            Tensor outside = Tensor.zeros(ai.fulgur.ops.Shape.of(1 << 18), DType.F32, GPU);
            assertFalse(((CudaStorage) outside.storage()).address(0) == addresses[0],
                    "the graph's pool block was handed out between replays");
            outside.storage().close();
        }
    }

    @Test
    void aHostReadDuringCaptureFailsNamingTheOperation() {
        Tensor x = Tensor.of(random(new Random(3), N), N).to(GPU);
        GraphCaptureException e = assertThrows(GraphCaptureException.class, () -> CudaGraph.capture(GPU, () -> {
            Tensor s = Elementwise.mulScalar(x, 2);
            s.toFloatArray(); // a host read: the value does not exist yet while capturing
        }));
        assertTrue(e.getMessage().contains("device-to-host copy"), e.getMessage());
        assertTrue(e.getMessage().contains("in ai.fulgur.ops.Tensor.toFloatArray"), "names the op: " + e.getMessage());
        assertTrue(e.getMessage().contains("called from ai.fulgur.cuda.CudaGraphTest"), "names the caller: "
                + e.getMessage());
        GraphCaptureException sync = assertThrows(GraphCaptureException.class,
                () -> CudaGraph.capture(GPU, () -> CudaBackend.device(GPU).synchronize()));
        assertTrue(sync.getMessage().contains("cuStreamSynchronize"), sync.getMessage());
        GraphCaptureException dropout = assertThrows(GraphCaptureException.class, () -> CudaGraph.capture(GPU,
                () -> ai.fulgur.ops.random.Rng.dropoutForward(x, 0.1, 1, 0)));
        assertTrue(dropout.getMessage().contains("Philox"), dropout.getMessage());
        // the device works eagerly afterwards
        assertFalse(CudaBackend.device(GPU).isCapturing());
        assertEquals(2 * x.toFloatArray()[7], Elementwise.mulScalar(x, 2).toFloatArray()[7], 0f);
    }

    @Test
    void adamWithDeviceStepScalarsMatchesTheCpuStepAfterStep() {
        Random r = new Random(4);
        float[] w0 = random(r, N);
        Tensor w = Tensor.of(w0.clone(), N).to(GPU);
        Tensor m = Tensor.zeros(ai.fulgur.ops.Shape.of(N), DType.F32, GPU);
        Tensor v = Tensor.zeros(ai.fulgur.ops.Shape.of(N), DType.F32, GPU);
        Tensor g = Tensor.zeros(ai.fulgur.ops.Shape.of(N), DType.F32, GPU);
        Tensor step = Tensor.zeros(ai.fulgur.ops.Shape.of(3), DType.F32, GPU);
        Tensor cw = Tensor.of(w0.clone(), N);
        Tensor cm = Tensor.zeros(ai.fulgur.ops.Shape.of(N), DType.F32, Device.CPU);
        Tensor cv = Tensor.zeros(ai.fulgur.ops.Shape.of(N), DType.F32, Device.CPU);
        AdamParams constants = new AdamParams(0, 0.9, 0.95, 1e-8, 0.1, true, 1, 1, 1, -1);
        try (CudaGraph graph = CudaGraph.capture(GPU, () -> Optim.adamUpdate(w, g, m, v, constants, step))) {
            for (int t = 1; t <= 5; t++) {
                float[] grad = random(r, N);
                float lr = 1e-3f * t; // a schedule: a different lr each step
                double bc1 = 1 - Math.pow(0.9, t);
                double bc2 = 1 - Math.pow(0.95, t);
                Elementwise.assign(g, Tensor.of(grad, N).to(GPU));
                Elementwise.assign(step, Tensor.of(new float[] {lr, (float) (lr / bc1), (float) Math.sqrt(bc2)}, 3)
                        .to(GPU));
                graph.replay();
                Optim.adamUpdate(cw, Tensor.of(grad, N), cm, cv, AdamParams.torch(lr, 0.9, 0.95, 1e-8, 0.1, true,
                        t));
                float[] got = w.toFloatArray();
                float[] want = cw.toFloatArray();
                for (int i = 0; i < N; i++) {
                    assertEquals(want[i], got[i], 1e-6 + 1e-5 * Math.abs(want[i]), "step " + t + " w[" + i + "]");
                }
            }
        }
    }
}
