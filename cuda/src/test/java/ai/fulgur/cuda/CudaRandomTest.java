package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.random.Philox;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The GPU's Philox numbers are the CPU's: raw words for arbitrary counters, uniform fills and dropout masks bit for
 * bit, normal fills to rounding; offsets that start mid-block and past 2^32 blocks, sizes that divide nothing.
 */
class CudaRandomTest extends GpuTest {
    private static final long[] SIZES = {1, 2, 5, 1023, 100003};
    private static final long[] OFFSETS = {0, 1, 2, 3, 7, (1L << 34) + 5, (1L << 40) + 2};

    @Test
    void philoxWordsEqualCpuBlocks() {
        SplittableRandom rnd = new SplittableRandom(41);
        int k = 4099;
        int[] counters = new int[4 * k];
        for (int i = 0; i < counters.length; i++) {
            counters[i] = i < 16 ? i : rnd.nextInt(); // a few small counters, then any 32-bit words
        }
        CudaRandom random = new CudaRandom();
        for (long seed : new long[] {0, 1, 0x123456789abcdefL, -1, rnd.nextLong()}) {
            Tensor out = CudaTesting.poisoned(Shape.of(k, 4), DType.I32);
            random.philoxBlocks(out, seed, Tensor.of(counters, k, 4).to(GPU));
            long[] gpu = out.toLongArray();
            int[] words = new int[4];
            for (int i = 0; i < k; i++) {
                Philox.block(seed, counters[4 * i], counters[4 * i + 1], counters[4 * i + 2], counters[4 * i + 3],
                        words);
                for (int lane = 0; lane < 4; lane++) {
                    if (gpu[4 * i + lane] != words[lane]) {
                        throw new AssertionError("Philox seed " + seed + " counter " + i + " lane " + lane + ": cpu "
                                + Integer.toHexString(words[lane]) + " vs gpu "
                                + Integer.toHexString((int) gpu[4 * i + lane]));
                    }
                }
            }
        }
    }

    @Test
    void uniformIsBitIdentical() {
        SplittableRandom rnd = new SplittableRandom(42);
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16, DType.F64}) {
            for (long n : SIZES) {
                for (long offset : OFFSETS) {
                    long seed = rnd.nextLong();
                    Tensor cpu = Tensor.zeros(Shape.of(n), dtype, Device.CPU);
                    Backends.of(Device.CPU).random().uniform(cpu, seed, offset, -1.5, 2.5);
                    Tensor gpu = CudaTesting.poisoned(Shape.of(n), dtype);
                    Backends.of(GPU).random().uniform(gpu, seed, offset, -1.5, 2.5);
                    CudaTesting.assertClose("uniform " + dtype + " n=" + n + " offset=" + offset, cpu, gpu, 0);
                }
            }
        }
    }

    @Test
    void normalMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(43);
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16, DType.F64}) {
            for (long n : SIZES) {
                for (long offset : OFFSETS) {
                    long seed = rnd.nextLong();
                    Tensor cpu = Tensor.zeros(Shape.of(n), dtype, Device.CPU);
                    Backends.of(Device.CPU).random().normal(cpu, seed, offset, 0.25, 2);
                    Tensor gpu = CudaTesting.poisoned(Shape.of(n), dtype);
                    Backends.of(GPU).random().normal(gpu, seed, offset, 0.25, 2);
                    // double log/sin/cos may differ from Java's in the last bit
                    double tol = dtype == DType.F64 ? 1e-13 : CudaTesting.tolerance(dtype);
                    CudaTesting.assertClose("normal " + dtype + " n=" + n + " offset=" + offset, cpu, gpu, tol);
                }
            }
        }
    }

    @Test
    void dropoutMasksAndValuesAreBitIdentical() {
        SplittableRandom rnd = new SplittableRandom(44);
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16, DType.F64}) {
            for (double p : new double[] {0, 0.1, 0.5, 0.9}) {
                for (long n : SIZES) {
                    for (long offset : new long[] {0, 3, (1L << 34) + 1}) {
                        long seed = rnd.nextLong();
                        String what = dtype + " p=" + p + " n=" + n + " offset=" + offset;
                        Tensor x = CudaTesting.random(rnd, dtype, 0.5, 4, n); // never 0: a zero marks a drop
                        Tensor cpu = Tensor.zeros(Shape.of(n), dtype, Device.CPU);
                        Backends.of(Device.CPU).random().dropoutForward(cpu, x, p, seed, offset);
                        Tensor gpu = CudaTesting.poisoned(Shape.of(n), dtype);
                        // odd sizes read x from a misaligned address: the scalar path even where the offset allows vectors
                        Backends.of(GPU).random().dropoutForward(gpu, CudaLossTest.onGpuAt(x, (int) (n % 2)), p, seed,
                                offset);
                        assertSameZeros("dropout forward mask " + what, cpu, gpu);
                        CudaTesting.assertClose("dropout forward " + what, cpu, gpu, 0);

                        Tensor dy = CudaTesting.random(rnd, dtype, -4, -0.5, n);
                        Tensor cdx = Tensor.zeros(Shape.of(n), dtype, Device.CPU);
                        Backends.of(Device.CPU).random().dropoutBackward(cdx, dy, p, seed, offset);
                        Tensor gdx = CudaTesting.poisoned(Shape.of(n), dtype);
                        Backends.of(GPU).random().dropoutBackward(gdx, dy.to(GPU), p, seed, offset);
                        assertSameZeros("dropout backward mask " + what, cdx, gdx);
                        CudaTesting.assertClose("dropout backward " + what, cdx, gdx, 0);
                        assertSameZeros("forward and backward masks " + what, gpu, gdx);
                    }
                }
            }
        }
    }

    @Test
    void dropoutDropsAboutP() {
        long n = 1 << 20;
        Tensor x = CudaTesting.random(new SplittableRandom(45), DType.F32, 1, 2, n).to(GPU);
        Tensor y = CudaTesting.poisoned(Shape.of(n), DType.F32);
        Backends.of(GPU).random().dropoutForward(y, x, 0.3, 7, 0);
        long zeros = 0;
        for (double v : y.toDoubleArray()) {
            zeros += v == 0 ? 1 : 0;
        }
        assertEquals(0.3, zeros / (double) n, 0.005, "fraction dropped");
    }

    private static void assertSameZeros(String what, Tensor cpu, Tensor gpu) {
        double[] e = cpu.toDoubleArray();
        double[] a = gpu.toDoubleArray();
        for (int i = 0; i < e.length; i++) {
            if ((e[i] == 0) != (a[i] == 0)) {
                throw new AssertionError(what + ": element " + i + " is " + (e[i] == 0 ? "dropped" : "kept")
                        + " on the CPU (" + e[i] + ") but not on the GPU (" + a[i] + ")");
            }
        }
    }
}
