package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.linalg.LinalgKernels;
import ai.fulgur.ops.linalg.LinearEpilogue;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The fused linear layer through cuBLASLt's epilogues (bias, GELU, bias+GELU, with and without the pre-GELU output)
 * equals the CPU reference kernel on the same inputs: every epilogue, F32/BF16/F16, shapes that are and are not
 * multiples of 8, operands at odd offsets (less aligned pointers), an empty depth; outputs poisoned with NaN first.
 */
class CudaLinearTest extends GpuTest {
    /** (M, N, K): rows, out features, in features. */
    private static final long[][] SHAPES = {
        {1, 1, 1}, {7, 5, 3}, {113, 203, 67}, {64, 64, 64}, {257, 129, 31}, {50, 96, 40}, {33, 768, 768},
        {1024, 3072, 768},
    };

    @Test
    void everyEpilogueMatchesTheCpuKernel() {
        SplittableRandom rnd = new SplittableRandom(21);
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (LinearEpilogue epilogue : LinearEpilogue.values()) {
                for (long[] s : SHAPES) {
                    check(rnd, dtype, epilogue, s[0], s[1], s[2], false, 0);
                    if (epilogue.hasGelu()) {
                        check(rnd, dtype, epilogue, s[0], s[1], s[2], true, 0);
                    }
                }
            }
        }
    }

    @Test
    void operandsAtOddOffsetsMatchTheCpuKernel() {
        // operands 2 or 4 bytes past an allocation: copied to aligned memory (the output computed aside and copied
        // back), never handed to a plan made for 256-byte aligned pointers
        SplittableRandom rnd = new SplittableRandom(22);
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (long[] s : new long[][] {{113, 203, 67}, {64, 64, 64}, {48, 96, 72}}) {
                check(rnd, dtype, LinearEpilogue.BIAS, s[0], s[1], s[2], false, 1);
                check(rnd, dtype, LinearEpilogue.GELU_BIAS, s[0], s[1], s[2], true, 1);
                check(rnd, dtype, LinearEpilogue.NONE, s[0], s[1], s[2], false, 0);
            }
        }
    }

    @Test
    void emptyDepthGivesTheEpilogueOfZero() {
        SplittableRandom rnd = new SplittableRandom(23);
        for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
            check(rnd, dtype, LinearEpilogue.GELU_BIAS, 5, 16, 0, true, 0);
            check(rnd, dtype, LinearEpilogue.BIAS, 5, 7, 0, false, 0);
        }
    }

    @Test
    void cudaOffersTheFusedPathForItsMatmulDtypes() {
        LinalgKernels k = Backends.of(GPU).linalg();
        assertTrue(k.fusesLinear(DType.F32) && k.fusesLinear(DType.BF16) && k.fusesLinear(DType.F16));
        assertFalse(k.fusesLinear(DType.F64));
    }

    @Test
    void plansSayHowTheirAlgorithmWasChosen() {
        check(new SplittableRandom(24), DType.BF16, LinearEpilogue.BIAS, 256, 256, 256, false, 0);
        List<String> reports = CublasLt.get().planReports();
        assertFalse(reports.isEmpty());
        for (String r : reports) {
            assertTrue(r.contains("autotuned") || r.contains("heuristic"), r);
        }
        System.out.println("[cublaslt plans] " + reports.size() + ", e.g. " + reports.get(0));
    }

    /**
     * Runs one case on both backends. {@code offset} > 0 places x, weight, bias and the outputs that many elements into
     * larger storages (so their addresses are only 2- or 4-byte aligned).
     */
    private static void check(SplittableRandom rnd, DType dtype, LinearEpilogue epilogue, long m, long n, long k,
            boolean withPre, long offset) {
        Tensor x = CudaTesting.random(rnd, dtype, -1, 1, m, k);
        Tensor w = Elementwise.mulScalar(CudaTesting.random(rnd, dtype, -1, 1, n, k), scale(k));
        Tensor b = epilogue.hasBias() ? CudaTesting.random(rnd, dtype, -1, 1, n) : null;
        Tensor cpu = Tensor.zeros(Shape.of(m, n), dtype, Device.CPU);
        Tensor cpuPre = withPre ? Tensor.zeros(Shape.of(m, n), dtype, Device.CPU) : null;
        Backends.of(Device.CPU).linalg().linear(cpu, x, w, b, epilogue, cpuPre);

        Tensor gx = placed(x, offset);
        Tensor gw = placed(w, offset);
        Tensor gb = b == null ? null : placed(b, offset);
        Tensor gpu = placed(CudaTesting.poisoned(Shape.of(m, n), dtype), offset);
        Tensor gpuPre = withPre ? placed(CudaTesting.poisoned(Shape.of(m, n), dtype), offset) : null;
        if (offset > 0) { // placed() copied zeros around the poison: poison the views again
            Elementwise.fill(gpu, Double.NaN);
            if (gpuPre != null) {
                Elementwise.fill(gpuPre, Double.NaN);
            }
        }
        Backends.of(GPU).linalg().linear(gpu, gx, gw, gb, epilogue, gpuPre);
        double tol = dtype == DType.F32 ? 1e-4 : 2e-2;
        String what = "linear " + dtype + " " + epilogue + " M=" + m + " N=" + n + " K=" + k
                + (withPre ? " with pre-activation" : "") + (offset > 0 ? " at offset " + offset : "");
        CudaTesting.assertClose(what, cpu, gpu, tol);
        if (withPre) {
            CudaTesting.assertClose(what + " (pre-activation)", cpuPre, gpuPre, tol);
        }
    }

    /** 1/√k, so products over long rows stay near 1 and the GELU sees its curved region, not only its tails. */
    private static double scale(long k) {
        return 1 / Math.sqrt(Math.max(1, k));
    }

    /** {@code t} copied to the GPU, {@code offset} elements into a storage one element longer than needed. */
    private static Tensor placed(Tensor t, long offset) {
        Tensor g = t.to(GPU);
        if (offset == 0) {
            return g;
        }
        Tensor big = Tensor.zeros(Shape.of(t.numel() + offset), t.dtype(), GPU);
        Tensor view = new Tensor(big.storage(), t.shape(), t.contiguous().strides(), offset);
        Backends.of(GPU).elementwise().copy(view, g);
        return view;
    }
}
