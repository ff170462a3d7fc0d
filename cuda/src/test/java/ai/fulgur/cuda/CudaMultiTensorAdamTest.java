package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.optim.AdamGroup;
import ai.fulgur.ops.optim.AdamParams;
import ai.fulgur.ops.optim.Optim;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The multi-tensor AdamW launch (adamw.cu's adam_update_many): over many tensors of odd sizes (1, 3, 1023, 4097, ...,
 * one empty), F32 and BF16 gradients, a BF16 parameter, misaligned tensors (the scalar path), weight decay on and off
 * per tensor, it gives the bits of one per-tensor launch each and agrees with the CPU reference (float64) step after
 * step; inside a captured CUDA graph (its table uploaded before capture, or by a copy recorded in the graph) each
 * replay reads that step's lr and bias corrections from the device.
 */
class CudaMultiTensorAdamTest extends GpuTest {
    private static final long[] SIZES = {1, 3, 1023, 4097, 0, 16384, 16385, 65537, 768, 100003, 5, 50304};

    /** {w, g, m, v} dtypes of tensor i: mostly F32, some BF16 gradients, one BF16 parameter. */
    private static DType[] types(int i) {
        DType g = i % 3 == 1 ? DType.BF16 : DType.F32;
        DType w = i == 8 ? DType.BF16 : DType.F32;
        return new DType[] {w, g, DType.F32, DType.F32};
    }

    /** Element offset of tensor i inside a larger buffer: 0 (aligned) except two (the scalar path). */
    private static int pad(int i) {
        return i == 3 ? 1 : (i == 7 ? 2 : 0);
    }

    private static Tensor[] host(SplittableRandom rnd, long n, DType[] t) {
        return new Tensor[] {CudaTesting.random(rnd, t[0], -2, 2, n), CudaTesting.random(rnd, t[1], -3, 3, n),
                CudaTesting.random(rnd, t[2], -0.5, 0.5, n), CudaTesting.random(rnd, t[3], 0, 0.3, n)};
    }

    private static Tensor[] onGpu(Tensor[] host, int pad) {
        Tensor[] out = new Tensor[4];
        for (int k = 0; k < 4; k++) {
            out[k] = CudaLossTest.onGpuAt(host[k], pad);
        }
        return out;
    }

    private static Tensor[] copies(Tensor[] t) {
        return new Tensor[] {t[0].copy(), t[1].copy(), t[2].copy(), t[3].copy()};
    }

    private static void assertGroupsClose(String what, List<Tensor[]> cpu, List<Tensor[]> gpu) {
        for (int i = 0; i < cpu.size(); i++) {
            for (int k : new int[] {0, 2, 3}) {
                Tensor c = cpu.get(i)[k];
                CudaTesting.assertClose(what + " tensor " + i + " n=" + SIZES[i] + " " + "wgmv".charAt(k), c,
                        gpu.get(i)[k], CudaTesting.tolerance(c.dtype()));
            }
        }
    }

    @Test
    void oneLaunchGivesThePerTensorBitsAndMatchesTheCpu() {
        SplittableRandom rnd = new SplittableRandom(61);
        AdamParams[] settings = {
            AdamParams.torch(1e-3, 0.9, 0.999, 1e-8, 0.1, true, 1), // AdamW
            new AdamParams(1e-2, 0.9, 0.99, 1e-7, 0.05, false, 1.7, 0.9, 0.25, 0.5), // Adam (L2), rescale and clip
        };
        for (AdamParams base : settings) {
            List<Tensor[]> cpu = new ArrayList<>();
            List<Tensor[]> single = new ArrayList<>();
            List<Tensor[]> many = new ArrayList<>();
            List<AdamGroup> groups = new ArrayList<>();
            for (int i = 0; i < SIZES.length; i++) {
                Tensor[] h = host(rnd, SIZES[i], types(i));
                cpu.add(copies(h));
                single.add(onGpu(h, pad(i)));
                Tensor[] g = onGpu(h, pad(i));
                many.add(g);
                groups.add(new AdamGroup(g[0], g[1], g[2], g[3], i % 2 == 0));
            }
            for (int t = 1; t <= 3; t++) { // several steps: later ones read the moments earlier ones wrote
                AdamParams p = new AdamParams(base.lr() * t, base.beta1(), base.beta2(), base.eps(),
                        base.weightDecay(), base.decoupled(), base.bc1(), base.bc2(), base.rescaleGrad(),
                        base.clipGrad());
                for (int i = 0; i < SIZES.length; i++) {
                    AdamParams pi = i % 2 == 0 ? p : p.withWeightDecay(0);
                    Tensor[] c = cpu.get(i);
                    Tensor[] s = single.get(i);
                    Backends.of(Device.CPU).optim().adamUpdate(c[0], c[1], c[2], c[3], pi);
                    Backends.of(GPU).optim().adamUpdate(s[0], s[1], s[2], s[3], pi);
                }
                Optim.adamUpdateMany(groups, p);
                assertGroupsClose("step " + t + " " + base, cpu, many);
            }
            for (int i = 0; i < SIZES.length; i++) {
                for (int k : new int[] {0, 2, 3}) {
                    assertArrayEquals(single.get(i)[k].toFloatArray(), many.get(i)[k].toFloatArray(),
                            "tensor " + i + " n=" + SIZES[i] + " " + "wgmv".charAt(k) + ": per-tensor bits " + base);
                }
            }
        }
    }

    /** An F64 tensor among F32 ones makes the launch compute in double; every tensor still matches the CPU. */
    @Test
    void anF64TensorAmongF32OnesMatchesTheCpu() {
        SplittableRandom rnd = new SplittableRandom(62);
        List<Tensor[]> cpu = new ArrayList<>();
        List<Tensor[]> gpu = new ArrayList<>();
        List<AdamGroup> groups = new ArrayList<>();
        long[] sizes = {1023, 4097, 3};
        for (int i = 0; i < sizes.length; i++) {
            DType d = i == 1 ? DType.F64 : DType.F32;
            Tensor[] h = host(rnd, sizes[i], new DType[] {d, d, d, d});
            cpu.add(copies(h));
            Tensor[] g = onGpu(h, 0);
            gpu.add(g);
            groups.add(new AdamGroup(g[0], g[1], g[2], g[3], i != 2));
        }
        AdamParams p = AdamParams.torch(3e-3, 0.9, 0.95, 1e-8, 0.1, true, 2);
        for (int t = 0; t < 2; t++) {
            for (int i = 0; i < sizes.length; i++) {
                Tensor[] c = cpu.get(i);
                Backends.of(Device.CPU).optim().adamUpdate(c[0], c[1], c[2], c[3], i != 2 ? p : p.withWeightDecay(0));
            }
            Optim.adamUpdateMany(groups, p);
        }
        for (int i = 0; i < sizes.length; i++) {
            for (int k : new int[] {0, 2, 3}) {
                Tensor c = cpu.get(i)[k];
                CudaTesting.assertClose("tensor " + i + " " + c.dtype() + " " + "wgmv".charAt(k), c, gpu.get(i)[k],
                        c.dtype() == DType.F64 ? 1e-12 : CudaTesting.tolerance(c.dtype()));
            }
        }
    }

    @Test
    void aCapturedGraphReplaysWithEachStepsLrTableUploadedBeforeCapture() {
        replaysFollowTheCpu(true, 63);
    }

    @Test
    void aCapturedGraphReplaysWithEachStepsLrTableUploadedInTheGraph() {
        replaysFollowTheCpu(false, 64);
    }

    private static void replaysFollowTheCpu(boolean eagerFirst, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        long[] sizes = {1, 3, 1023, 4097, 16385, 768};
        List<Tensor[]> cpu = new ArrayList<>();
        List<Tensor[]> gpu = new ArrayList<>();
        List<AdamGroup> groups = new ArrayList<>();
        for (int i = 0; i < sizes.length; i++) {
            Tensor[] h = host(rnd, sizes[i], types(i));
            cpu.add(copies(h));
            Tensor[] g = onGpu(h, i == 2 ? 1 : 0);
            gpu.add(g);
            groups.add(new AdamGroup(g[0], g[1], g[2], g[3], i % 2 == 1));
        }
        double beta1 = 0.9;
        double beta2 = 0.95;
        AdamParams constants = new AdamParams(0, beta1, beta2, 1e-8, 0.1, true, 1, 1, 1, -1);
        Tensor step = Tensor.zeros(Shape.of(3), DType.F32, GPU);
        int first = 1;
        if (eagerFirst) {
            // an eager step caches the table; the capture then finds it and pins it
            float[] s = scalars(1e-3f, beta1, beta2, 1);
            Elementwise.assign(step, Tensor.of(s, 3).to(GPU));
            Optim.adamUpdateMany(groups, constants, step);
            cpuStep(cpu, sizes.length, constants, s);
            first = 2;
        }
        try (CudaGraph graph = CudaGraph.capture(GPU, () -> Optim.adamUpdateMany(groups, constants, step))) {
            for (int t = first; t < first + 4; t++) {
                float lr = 1e-3f * t * (t % 2 == 0 ? 1 : 0.5f); // a schedule: a different lr each step
                for (int i = 0; i < sizes.length; i++) {
                    Tensor g = CudaTesting.random(rnd, cpu.get(i)[1].dtype(), -3, 3, sizes[i]);
                    Elementwise.assign(cpu.get(i)[1], g);
                    Elementwise.assign(gpu.get(i)[1], g.to(GPU));
                }
                float[] s = scalars(lr, beta1, beta2, t);
                Elementwise.assign(step, Tensor.of(s, 3).to(GPU));
                graph.replay();
                cpuStep(cpu, sizes.length, constants, s);
                for (int i = 0; i < sizes.length; i++) {
                    for (int k : new int[] {0, 2, 3}) {
                        Tensor c = cpu.get(i)[k];
                        CudaTesting.assertClose("replay of step " + t + " tensor " + i + " " + "wgmv".charAt(k), c,
                                gpu.get(i)[k], CudaTesting.tolerance(c.dtype()));
                    }
                }
            }
        }
    }

    /** {lr, lr / bc1, √bc2} of step t. */
    private static float[] scalars(float lr, double beta1, double beta2, int t) {
        return new float[] {lr, (float) (lr / (1 - Math.pow(beta1, t))), (float) Math.sqrt(1 - Math.pow(beta2, t))};
    }

    /** The CPU reference of one stepped update: decay on for odd tensors, as the groups say. */
    private static void cpuStep(List<Tensor[]> cpu, int count, AdamParams constants, float[] s) {
        for (int i = 0; i < count; i++) {
            Tensor[] c = cpu.get(i);
            AdamParams p = constants.withStepScalars(s);
            Backends.of(Device.CPU).optim().adamUpdate(c[0], c[1], c[2], c[3], i % 2 == 1 ? p : p.withWeightDecay(0));
        }
    }
}
