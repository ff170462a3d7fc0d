package ai.fulgur.cuda;

import static ai.fulgur.ops.testing.PitchedTensors.buffer;
import static ai.fulgur.ops.testing.PitchedTensors.padsChanged;
import static ai.fulgur.ops.testing.PitchedTensors.pitched;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.linalg.Linalg;
import ai.fulgur.ops.linalg.LinearEpilogue;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Products on row-pitched operands (rows padded to a 16-byte multiple past an odd length, as GPT-2's 50257 logits
 * and their gradient are): cuBLASLt takes each operand's row stride as its leading dimension, so a, b and out are
 * used in place in every transpose combination, BF16 and F32, with and without accumulation, the odd m, n and k split
 * into aligned bodies and narrow tails; equal to the CPU kernel on the same views; the inputs' pads hold NaN (read as
 * data they would poison the result) and out's pad a sentinel that must survive; the kernel profiler shows the
 * aligned body's GEMM and nothing but GEMMs (no copy). Operands whose row stride is misaligned are copied into
 * padded-pitch buffers first, and {@link Linalg#linear} hands out a row-pitched output for a misaligned row length.
 * Every product counts as large here ({@code padMisalignedMacs} 0).
 */
class CudaPitchedMatmulTest extends GpuTest {
    private static final double SENTINEL = 96; // exact in every floating dtype
    private long savedMacs;
    private boolean savedPitched;

    @BeforeEach
    void everyProductIsLarge() {
        savedMacs = CudaLinalg.padMisalignedMacs;
        savedPitched = CudaLinalg.pitchedOperands;
        CudaLinalg.padMisalignedMacs = 0;
        CudaLinalg.pitchedOperands = true;
    }

    @AfterEach
    void restore() {
        CudaLinalg.padMisalignedMacs = savedMacs;
        CudaLinalg.pitchedOperands = savedPitched;
    }

    private static long up(long x, long q) {
        return (x + q - 1) / q * q;
    }

    @Test
    void pitchedOperandsAreUsedInPlace() {
        SplittableRandom rnd = new SplittableRandom(31);
        long m = 113;
        long n = 203;
        long k = 67;
        for (DType dtype : new DType[] {DType.BF16, DType.F32}) {
            long q = 16 / dtype.byteSize();
            for (boolean transA : new boolean[] {false, true}) {
                for (boolean transB : new boolean[] {false, true}) {
                    for (boolean accumulate : new boolean[] {false, true}) {
                        String what = "pitched matmul " + dtype + " tA=" + transA + " tB=" + transB + " acc="
                                + accumulate;
                        Tensor a = CudaTesting.random(rnd, dtype, -1, 1, 1, transA ? k : m, transA ? m : k);
                        Tensor b = CudaTesting.random(rnd, dtype, -1, 1, 1, transB ? n : k, transB ? k : n);
                        Tensor c = CudaTesting.random(rnd, dtype, -1, 1, 1, m, n);
                        long lda = up(a.shape().dim(2), q) + q; // one 16-byte vector more than needed, too
                        long ldb = up(b.shape().dim(2), q);
                        long ldc = up(n, q);
                        Tensor cpu = pitched(c, ldc, SENTINEL);
                        Backends.of(Device.CPU).linalg().matmul(cpu, pitched(a, lda, Double.NaN),
                                pitched(b, ldb, Double.NaN), transA, transB, 0.5, accumulate);
                        Tensor ga = pitched(a.to(GPU), lda, Double.NaN);
                        Tensor gb = pitched(b.to(GPU), ldb, Double.NaN);
                        Tensor gc = pitched(c.to(GPU), ldc, SENTINEL);
                        KernelProfiler.start(CudaBackend.device(GPU));
                        KernelProfiler.Report report;
                        try {
                            Backends.of(GPU).linalg().matmul(gc, ga, gb, transA, transB, 0.5, accumulate);
                        } finally {
                            report = KernelProfiler.stop();
                        }
                        // the aligned body: 112 x 200 x 64 (q = 8 or 4 both round 113, 203, 67 down to these)
                        String body = "cublasLt " + dtype.name().toLowerCase() + " " + (transA ? "T" : "N")
                                + (transB ? "T" : "N") + " 112x200x64" + (accumulate ? " +=D" : "") + " lda=" + lda
                                + " ldb=" + ldb + " ldd=" + ldc;
                        assertNotNull(report.row(body), what + ": no " + body + " in " + report.rows());
                        assertTrue(report.rows().stream().allMatch(row -> row.name().startsWith("cublasLt ")),
                                what + ": something beside GEMMs ran (a copy?): " + report.rows());
                        CudaTesting.assertClose(what, cpu.contiguous(), gc.contiguous(),
                                dtype == DType.F32 ? 1e-4 : 2e-2);
                        assertEquals(0, padsChanged(buffer(gc, ldc), n, SENTINEL), what + ": out's pad written");
                    }
                }
            }
        }
    }

    @Test
    void misalignedRowStridesAreRepitchedThenSplit() {
        SplittableRandom rnd = new SplittableRandom(32);
        long m = 113;
        long n = 203;
        long k = 67;
        for (DType dtype : new DType[] {DType.BF16, DType.F32}) {
            long q = 16 / dtype.byteSize();
            for (boolean transA : new boolean[] {false, true}) {
                for (boolean transB : new boolean[] {false, true}) {
                    for (boolean accumulate : new boolean[] {false, true}) {
                        String what = "repitched matmul " + dtype + " tA=" + transA + " tB=" + transB + " acc="
                                + accumulate;
                        // contiguous operands: every row stride (67, 113 or 203) is misaligned
                        Tensor a = CudaTesting.random(rnd, dtype, -1, 1, 1, transA ? k : m, transA ? m : k);
                        Tensor b = CudaTesting.random(rnd, dtype, -1, 1, 1, transB ? n : k, transB ? k : n);
                        Tensor c = CudaTesting.random(rnd, dtype, -1, 1, 1, m, n);
                        Tensor cpu = c.copy();
                        Backends.of(Device.CPU).linalg().matmul(cpu, a, b, transA, transB, 0.5, accumulate);
                        Tensor gc = c.to(GPU);
                        KernelProfiler.start(CudaBackend.device(GPU));
                        KernelProfiler.Report report;
                        try {
                            Backends.of(GPU).linalg().matmul(gc, a.to(GPU), b.to(GPU), transA, transB, 0.5,
                                    accumulate);
                        } finally {
                            report = KernelProfiler.stop();
                        }
                        String body = "cublasLt " + dtype.name().toLowerCase() + " " + (transA ? "T" : "N")
                                + (transB ? "T" : "N") + " 112x200x64" + (accumulate ? " +=D" : "")
                                + " lda=" + up(a.shape().dim(2), q) + " ldb=" + up(b.shape().dim(2), q) + " ldd="
                                + up(n, q);
                        assertNotNull(report.row(body), what + ": no " + body + " in " + report.rows());
                        CudaTesting.assertClose(what, cpu, gc, dtype == DType.F32 ? 1e-4 : 2e-2);
                    }
                }
            }
        }
    }

    /**
     * A sum over the rows of a row-pitched (R, N) operand (a vocabulary head's bias gradient from the row-pitched
     * logits gradient) runs over the padded block, its NaN pads included, without a contiguous copy, and equals the
     * CPU sum; sums over the other axis still take the general path.
     */
    @Test
    void rowSumsOfPitchedRowsNeedNoCopy() {
        SplittableRandom rnd = new SplittableRandom(35);
        for (DType dtype : new DType[] {DType.BF16, DType.F32}) {
            long r = 301;
            long n = 203;
            long pitch = up(n, 16 / dtype.byteSize());
            Tensor x = CudaTesting.random(rnd, dtype, -1, 1, r, n);
            Tensor gx = pitched(x.to(GPU), pitch, Double.NaN);
            KernelProfiler.start(CudaBackend.device(GPU));
            KernelProfiler.Report report;
            Tensor sums;
            try {
                sums = ai.fulgur.ops.reduce.Reduce.sum(gx, new int[] {0}, false);
            } finally {
                report = KernelProfiler.stop();
            }
            String what = "row sums of pitched " + dtype;
            assertTrue(report.rows().stream().noneMatch(row -> row.name().startsWith("copy")
                    && !row.name().contains("n=" + n)), what + ": the operand was copied: " + report.rows());
            CudaTesting.assertClose(what, ai.fulgur.ops.reduce.Reduce.sum(x, new int[] {0}, false), sums,
                    dtype == DType.F32 ? 1e-4 : 2e-2);
            CudaTesting.assertClose(what + " (over the other axis)", ai.fulgur.ops.reduce.Reduce.sum(x, new int[] {1},
                    false), ai.fulgur.ops.reduce.Reduce.sum(gx, new int[] {1}, false), dtype == DType.F32 ? 1e-4 : 2e-2);
        }
    }

    @Test
    void linearHandsOutRowPitchedLogits() {
        SplittableRandom rnd = new SplittableRandom(33);
        for (DType dtype : new DType[] {DType.BF16, DType.F32}) {
            long q = 16 / dtype.byteSize();
            for (LinearEpilogue epilogue : new LinearEpilogue[] {LinearEpilogue.NONE, LinearEpilogue.BIAS}) {
                String what = "linear " + dtype + " " + epilogue;
                long b = 3;
                long t = 13;
                long c = 40;
                long v = 201;
                Tensor x = CudaTesting.random(rnd, dtype, -1, 1, b, t, c);
                Tensor w = CudaTesting.random(rnd, dtype, -1, 1, v, c);
                Tensor bias = epilogue.hasBias() ? CudaTesting.random(rnd, dtype, -1, 1, v) : null;
                Tensor cpu = Linalg.linear(x, w, bias, epilogue);
                KernelProfiler.start(CudaBackend.device(GPU));
                KernelProfiler.Report report;
                Tensor gpu;
                try {
                    gpu = Linalg.linear(x.to(GPU), w.to(GPU), bias == null ? null : bias.to(GPU), epilogue);
                } finally {
                    report = KernelProfiler.stop();
                }
                assertEquals(Shape.of(b, t, v), gpu.shape(), what);
                long pitch = up(v, q);
                assertArrayEquals(new long[] {t * pitch, pitch, 1}, gpu.strides(), what + ": a row-pitched output");
                // the bias of a misaligned product is its own pass over the output (the split GEMMs take no epilogue)
                assertTrue(report.rows().stream().allMatch(row -> row.name().startsWith("cublasLt ")
                        || (bias != null && row.name().startsWith("binary"))),
                        what + ": something beside GEMMs and the bias add ran (a copy?): " + report.rows());
                assertTrue(report.rows().stream().anyMatch(row -> row.name().endsWith(" ldd=" + pitch)),
                        what + ": no GEMM wrote at the pitch: " + report.rows());
                if (bias != null) {
                    // the aligned columns take the bias in the GEMM's epilogue; only the narrow tail adds it apart
                    assertTrue(report.rows().stream().anyMatch(row -> row.name().contains(" " + t * b + "x"
                            + (v - v % q) + "x" + c + " +bias")),
                            what + ": no aligned GEMM with the bias epilogue: " + report.rows());
                }
                CudaTesting.assertClose(what, cpu, gpu.contiguous(), dtype == DType.F32 ? 1e-4 : 2e-2);
            }
        }
        // with the flag off, outputs stay contiguous (main's path: zero-padded copies of the whole problem)
        CudaLinalg.pitchedOperands = false;
        Tensor x = CudaTesting.random(rnd, DType.BF16, -1, 1, 13, 40).to(GPU);
        Tensor w = CudaTesting.random(rnd, DType.BF16, -1, 1, 201, 40).to(GPU);
        assertTrue(Linalg.linear(x, w, null, LinearEpilogue.NONE).isContiguous(), "flag off: contiguous logits");
    }
}
