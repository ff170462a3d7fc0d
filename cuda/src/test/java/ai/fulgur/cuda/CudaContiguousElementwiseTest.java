package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.BinaryOp;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The contiguous F32/BF16 fast paths (binary_contiguous_*, cast_contiguous_*) equal the CPU kernel, mixed dtypes
 * included, for lengths with and without a tail of n % 4 elements; an operand not on a four-element boundary takes
 * the generic kernel (checked with the kernel profiler).
 */
class CudaContiguousElementwiseTest extends GpuTest {
    private static final long[] LENGTHS = {1, 3, 4, 4099, (1 << 20) + 5};
    private static final DType[][] BINARY_TYPES = {{DType.F32, DType.F32, DType.F32}, {DType.F32, DType.F32, DType.BF16},
        {DType.F32, DType.BF16, DType.F32}, {DType.BF16, DType.BF16, DType.BF16}};

    /** A device tensor of n random values of {@code dtype} starting {@code offset} elements into its storage. */
    private static Tensor[] randomAt(SplittableRandom rnd, DType dtype, long n, long offset) {
        Tensor host = CudaTesting.random(rnd, dtype, -3, 3, n);
        Tensor storage = Tensor.zeros(Shape.of(n + offset), dtype, GPU);
        Tensor view = new Tensor(storage.storage(), Shape.of(n), new long[] {1}, offset);
        Backends.of(GPU).elementwise().copy(view, host.to(GPU));
        return new Tensor[] {host, view};
    }

    private static String name(DType t) {
        return t == DType.F32 ? "f32" : "bf16";
    }

    @Test
    void binaryMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(31);
        CudaDevice d = CudaBackend.device(GPU);
        for (BinaryOp op : new BinaryOp[] {BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL}) {
            for (DType[] types : BINARY_TYPES) {
                for (long n : LENGTHS) {
                    for (long offset : new long[] {0, 1}) {
                        Tensor[] a = randomAt(rnd, types[1], n, offset);
                        Tensor[] b = randomAt(rnd, types[2], n, offset);
                        Tensor cpu = Tensor.zeros(Shape.of(n), types[0], Device.CPU);
                        Backends.of(Device.CPU).elementwise().binary(op, cpu, a[0], b[0]);
                        Tensor gpu = CudaTesting.poisoned(Shape.of(n), types[0]);
                        KernelProfiler.start(d);
                        KernelProfiler.Report report;
                        try {
                            Backends.of(GPU).elementwise().binary(op, gpu, a[1], b[1]);
                        } finally {
                            report = KernelProfiler.stop();
                        }
                        String what = op + " " + types[0] + "<-" + types[1] + "," + types[2] + " n=" + n
                                + " offset " + offset;
                        String fast = "binary_contiguous_" + name(types[0]) + "_" + name(types[1]) + "_"
                                + name(types[2]);
                        if (offset == 0) {
                            assertEquals(1, report.row(fast).calls(), what + ": " + report.rows());
                        } else {
                            assertNull(report.row(fast), what + " is not aligned: " + report.rows());
                        }
                        CudaTesting.assertClose(what, cpu, gpu, CudaTesting.tolerance(types[0]));
                    }
                }
            }
        }
    }

    @Test
    void inPlaceAddMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(32);
        Tensor[] acc = randomAt(rnd, DType.F32, 4099, 0);
        Tensor[] g = randomAt(rnd, DType.BF16, 4099, 0);
        Tensor cpu = acc[0].copy();
        Backends.of(Device.CPU).elementwise().binary(BinaryOp.ADD, cpu, cpu, g[0]);
        Backends.of(GPU).elementwise().binary(BinaryOp.ADD, acc[1], acc[1], g[1]);
        CudaTesting.assertClose("grad += g (f32 += bf16)", cpu, acc[1], 1e-6);
    }

    @Test
    void castsMatchCpu() {
        SplittableRandom rnd = new SplittableRandom(33);
        CudaDevice d = CudaBackend.device(GPU);
        DType[][] pairs = {{DType.F32, DType.BF16}, {DType.BF16, DType.F32}};
        for (DType[] p : pairs) {
            for (long n : LENGTHS) {
                for (long offset : new long[] {0, 1}) {
                    // F32 sources with more bits than BF16 keeps: the cast must round to nearest even as the CPU does
                    Tensor[] src = randomAt(rnd, p[1], n, offset);
                    Tensor cpu = src[0].cast(p[0]);
                    Tensor gpu = CudaTesting.poisoned(Shape.of(n), p[0]);
                    KernelProfiler.start(d);
                    KernelProfiler.Report report;
                    try {
                        Backends.of(GPU).elementwise().copy(gpu, src[1]);
                    } finally {
                        report = KernelProfiler.stop();
                    }
                    String what = "cast " + p[0] + "<-" + p[1] + " n=" + n + " offset " + offset;
                    String fast = "cast_contiguous_" + name(p[0]) + "_" + name(p[1]);
                    assertEquals(offset == 0 ? 1 : 0, report.row(fast) == null ? 0 : report.row(fast).calls(),
                            what + ": " + report.rows());
                    CudaTesting.assertClose(what, cpu, gpu, 0);
                }
            }
        }
    }
}
