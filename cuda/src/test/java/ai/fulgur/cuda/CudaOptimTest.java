package ai.fulgur.cuda;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.optim.AdamGroup;
import ai.fulgur.ops.optim.AdamParams;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Optimizer steps on the GPU equal the CPU's: AdamW (decoupled) and Adam (L2), with rescale and clipping, bias
 * corrections from PyTorch or folded into the step size, F32 and F64 tensors, BF16 parameters with F32 moments,
 * tensors at odd offsets (the scalar path), the multi-tensor launch over many sizes, and SGD with and without momentum.
 */
class CudaOptimTest extends GpuTest {
    private static final long[] SIZES = {1, 7, 1000, 16384, 16385, 65537, 100003};

    private static final AdamParams[] PARAMS = {
        AdamParams.torch(1e-3, 0.9, 0.999, 1e-8, 0.1, true, 3),
        AdamParams.torch(3e-4, 0.8, 0.95, 1e-6, 0.01, false, 1),
        new AdamParams(1e-2, 0.9, 0.99, 1e-7, 0.05, true, 1.7, 1.0, 0.25, 0.5), // DJL-style bc1 > 1, clipping
        new AdamParams(5e-3, 0.5, 0.9, 1e-5, 0, false, 0.3, 0.2, 2.0, -1),
    };

    /** {w, g, m, v} on the host: w and g any sign, m any sign, v positive. */
    private static Tensor[] group(SplittableRandom rnd, long n, DType w, DType g, DType m, DType v) {
        return new Tensor[] {CudaTesting.random(rnd, w, -2, 2, n), CudaTesting.random(rnd, g, -3, 3, n),
                CudaTesting.random(rnd, m, -0.5, 0.5, n), CudaTesting.random(rnd, v, 0, 0.3, n)};
    }

    private static Tensor[] toGpu(Tensor[] host, int pad) {
        Tensor[] out = new Tensor[host.length];
        for (int i = 0; i < host.length; i++) {
            out[i] = CudaLossTest.onGpuAt(host[i], pad);
        }
        return out;
    }

    private static Tensor[] copies(Tensor[] host) {
        Tensor[] out = new Tensor[host.length];
        for (int i = 0; i < host.length; i++) {
            out[i] = host[i].copy();
        }
        return out;
    }

    private static double tol(DType t) {
        return t == DType.F64 ? 1e-12 : CudaTesting.tolerance(t);
    }

    private static void assertGroup(String what, Tensor[] cpu, Tensor[] gpu) {
        String[] names = {"w", "g", "m", "v"};
        for (int i = 0; i < 4; i++) {
            if (i != 1) { // g is read only
                CudaTesting.assertClose(what + " " + names[i], cpu[i], gpu[i], tol(cpu[i].dtype()));
            }
        }
    }

    @Test
    void adamMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(51);
        DType[][] types = {
            {DType.F32, DType.F32, DType.F32, DType.F32},
            {DType.BF16, DType.BF16, DType.F32, DType.F32},
            {DType.BF16, DType.F32, DType.F32, DType.F32},
            {DType.F64, DType.F64, DType.F64, DType.F64},
        };
        for (DType[] t : types) {
            for (AdamParams p : PARAMS) {
                for (long n : SIZES) {
                    for (int pad : new int[] {0, 1}) {
                        String what = "adam " + t[0] + "/" + t[1] + "/" + t[2] + " n=" + n + " pad=" + pad + " " + p;
                        Tensor[] host = group(rnd, n, t[0], t[1], t[2], t[3]);
                        Tensor[] gpu = toGpu(host, pad);
                        Tensor[] cpu = copies(host);
                        // two steps: the second reads moments the first wrote
                        for (int step = 0; step < 2; step++) {
                            Backends.of(Device.CPU).optim().adamUpdate(cpu[0], cpu[1], cpu[2], cpu[3], p);
                            Backends.of(GPU).optim().adamUpdate(gpu[0], gpu[1], gpu[2], gpu[3], p);
                        }
                        assertGroup(what, cpu, gpu);
                    }
                }
            }
        }
    }

    @Test
    void adamUpdateManyMatchesCpuPerTensor() {
        SplittableRandom rnd = new SplittableRandom(52);
        long[] sizes = {0, 1, 5, 768, 16384, 16385, 40000, 100003, 3, 50304};
        for (AdamParams p : PARAMS) {
            List<Tensor[]> cpu = new ArrayList<>();
            List<Tensor[]> gpu = new ArrayList<>();
            List<AdamGroup> groups = new ArrayList<>();
            for (int i = 0; i < sizes.length; i++) {
                DType w = i == 3 ? DType.BF16 : DType.F32; // one BF16 parameter among F32 ones
                Tensor[] host = group(rnd, sizes[i], w, DType.F32, DType.F32, DType.F32);
                Tensor[] onGpu = toGpu(host, i == 6 ? 1 : 0); // one misaligned tensor
                gpu.add(onGpu);
                groups.add(new AdamGroup(onGpu[0], onGpu[1], onGpu[2], onGpu[3], true));
                cpu.add(copies(host));
            }
            CudaOptim optim = new CudaOptim();
            for (int step = 0; step < 3; step++) { // repeated calls reuse the cached descriptor table
                for (Tensor[] c : cpu) {
                    Backends.of(Device.CPU).optim().adamUpdate(c[0], c[1], c[2], c[3], p);
                }
                optim.adamUpdateMany(groups, p);
            }
            for (int i = 0; i < sizes.length; i++) {
                assertGroup("adamUpdateMany tensor " + i + " n=" + sizes[i] + " " + p, cpu.get(i), gpu.get(i));
            }
        }
    }

    @Test
    void sgdMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(53);
        double[][] settings = { // lr, weightDecay, momentum, rescale, clip
            {0.1, 0, 0, 1, -1}, {0.05, 1e-4, 0.9, 1, -1}, {0.01, 0.1, 0.5, 0.5, 1.0}};
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F64}) {
            for (double[] s : settings) {
                for (long n : SIZES) {
                    String what = "sgd " + dtype + " n=" + n + " lr=" + s[0] + " wd=" + s[1] + " momentum=" + s[2];
                    Tensor w = CudaTesting.random(rnd, dtype, -2, 2, n);
                    Tensor g = CudaTesting.random(rnd, dtype, -3, 3, n);
                    Tensor state = s[2] == 0 ? null : CudaTesting.random(rnd, dtype, -1, 1, n);
                    Tensor gw = w.to(GPU);
                    Tensor gs = state == null ? null : state.to(GPU);
                    Tensor cw = w.copy();
                    Tensor cs = state == null ? null : state.copy();
                    for (int step = 0; step < 2; step++) {
                        Backends.of(Device.CPU).optim().sgdUpdate(cw, g, cs, s[0], s[1], s[2], s[3], s[4]);
                        Backends.of(GPU).optim().sgdUpdate(gw, g.to(GPU), gs, s[0], s[1], s[2], s[3], s[4]);
                    }
                    CudaTesting.assertClose(what + " w", cw, gw, tol(dtype));
                    if (cs != null) {
                        CudaTesting.assertClose(what + " state", cs, gs, tol(dtype));
                    }
                }
            }
        }
    }
}
