package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.cpu.CpuStorage;
import ai.fulgur.ops.elementwise.Elementwise;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Host↔device copies staged through pinned buffers keep every byte: tensors of many sizes (below, at and above the
 * 8 MiB staging buffer, so copies of one, two and several chunks), every host array type, a pool with a tiny buffer
 * whose chunks split elements, device offsets, ordering with kernels on the stream, and the pinned-bytes statistic.
 */
class PinnedStagingTest extends GpuTest {
    private static final long MIB = 1 << 20;

    @Test
    void tensorsRoundTripEveryByte() {
        SplittableRandom rnd = new SplittableRandom(31);
        long chunk = PinnedStaging.DEFAULT_BUFFER_BYTES;
        long[] byteSizes = {1, 3, 4096, chunk - 1, chunk, chunk + 1, 2 * chunk, 2 * chunk + 5, 5 * chunk / 2 + 7,
            20 * MIB + 3, 64 * MIB + 11};
        for (long bytes : byteSizes) {
            roundTrip(randomStorage(rnd, DType.U8, bytes), bytes);
            for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F64, DType.I64, DType.I32, DType.F16}) {
                long n = Math.max(1, bytes / dtype.byteSize());
                roundTrip(randomStorage(rnd, dtype, n), bytes);
            }
        }
        CudaDevice d = CudaBackend.device(GPU);
        assertEquals(PinnedStaging.BUFFERS * PinnedStaging.DEFAULT_BUFFER_BYTES, d.pinnedBytes(),
                "the device pins exactly its staging buffers, however large the copies");
        assertTrue(d.stagedCopies() >= 2 * byteSizes.length * 7L, "copies counted: " + d.stagedCopies());
    }

    @Test
    void aTinyBufferSplitsCopiesIntoManyChunks() {
        CudaDevice d = CudaBackend.device(GPU);
        SplittableRandom rnd = new SplittableRandom(32);
        try (PinnedStaging small = new PinnedStaging(d, 1000)) {
            for (long bytes : new long[] {0, 1, 999, 1000, 1001, 1999, 2000, 2001, 3007, 100_003, 1_000_000}) {
                byte[] src = new byte[(int) bytes];
                rnd.nextBytes(src);
                try (CudaStorage dev = new CudaStorage(d, DType.U8, bytes + 17)) {
                    // at a device offset of 17 bytes, through the small pool; back through the small pool and,
                    // independently, through the device's own 8 MiB pool
                    small.upload(dev.pointer(17), src, bytes);
                    byte[] viaSmall = new byte[(int) bytes];
                    small.download(viaSmall, dev.pointer(17), bytes);
                    byte[] viaDevice = new byte[(int) bytes];
                    d.copyToHost(viaDevice, dev.pointer(17), bytes);
                    assertArrayEquals(src, viaSmall, "small pool, " + bytes + " bytes");
                    assertArrayEquals(src, viaDevice, "device pool, " + bytes + " bytes");
                }
            }
            assertEquals(2000, small.pinnedBytes());
            // elements larger than a byte split across chunks (1000 is not a multiple of 8)
            long[] words = rnd.longs(12_345).toArray();
            try (CudaStorage dev = new CudaStorage(d, DType.I64, words.length)) {
                small.upload(dev.pointer(0), words, words.length * 8L);
                long[] back = new long[words.length];
                small.download(back, dev.pointer(0), words.length * 8L);
                assertArrayEquals(words, back);
            }
        }
    }

    @Test
    void anUploadOwnsItsDataWhenItReturns() {
        // the copies are asynchronous: changing the host array right after an upload must not change what arrives
        CudaDevice d = CudaBackend.device(GPU);
        float[] data = new float[(int) (3 * PinnedStaging.DEFAULT_BUFFER_BYTES / 4) + 11];
        for (int i = 0; i < data.length; i++) {
            data[i] = i * 0.5f;
        }
        float[] expected = data.clone();
        try (CudaStorage dev = new CudaStorage(d, DType.F32, data.length)) {
            d.copyToDevice(dev.pointer(0), data, data.length * 4L);
            Arrays.fill(data, -1f);
            float[] back = new float[data.length];
            d.copyToHost(back, dev.pointer(0), back.length * 4L);
            assertArrayEquals(expected, back);
        }
    }

    @Test
    void copiesAreOrderedWithKernels() {
        // a fill kernel, then an upload over part of it, then a download: each sees the one before, no synchronise
        Tensor t = Tensor.zeros(Shape.of(3 * MIB), DType.F32, GPU);
        for (int round = 0; round < 5; round++) {
            Elementwise.fill(t, round + 1);
            float[] part = new float[1000];
            Arrays.fill(part, -round);
            CudaBackend.device(GPU).copyToDevice(CudaTensors.storage(t).pointer(MIB), part, part.length * 4L);
            float[] back = t.to(Device.CPU).toFloatArray();
            for (int i = 0; i < back.length; i++) {
                float expected = i >= MIB && i < MIB + 1000 ? -round : round + 1;
                if (back[i] != expected) {
                    throw new AssertionError("round " + round + ": element " + i + " is " + back[i] + ", expected "
                            + expected);
                }
            }
        }
    }

    /** Uploads {@code host}, downloads it again and compares the raw arrays. */
    private static void roundTrip(CpuStorage host, long bytesHint) {
        Tensor h = new Tensor(host, Shape.of(host.length()));
        Tensor back = h.to(GPU).to(Device.CPU);
        Object a = host.array();
        Object b = back.cpu().array();
        String what = host.dtype() + " × " + host.length() + " (~" + bytesHint + " bytes)";
        switch (a) {
            case byte[] x -> assertArrayEquals(x, (byte[]) b, what);
            case short[] x -> assertArrayEquals(x, (short[]) b, what);
            case int[] x -> assertArrayEquals(x, (int[]) b, what);
            case long[] x -> assertArrayEquals(x, (long[]) b, what);
            case float[] x -> assertArrayEquals(rawBits(x), rawBits((float[]) b), what);
            case double[] x -> assertArrayEquals(rawBits(x), rawBits((double[]) b), what);
            default -> throw new AssertionError("unexpected host array " + a.getClass());
        }
    }

    /** A host storage of {@code n} elements with random bit patterns (NaN payloads included for floats). */
    private static CpuStorage randomStorage(SplittableRandom rnd, DType dtype, long n) {
        int len = Math.toIntExact(n);
        return switch (dtype) {
            case U8 -> {
                byte[] v = new byte[len];
                rnd.nextBytes(v);
                yield CpuStorage.wrap(v, DType.U8);
            }
            case BF16, F16 -> {
                short[] v = new short[len];
                for (int i = 0; i < len; i++) {
                    v[i] = (short) rnd.nextInt();
                }
                yield CpuStorage.wrap(v, dtype);
            }
            case I32 -> CpuStorage.wrap(rnd.ints(len).toArray());
            case I64 -> CpuStorage.wrap(rnd.longs(len).toArray());
            case F32 -> {
                float[] v = new float[len];
                for (int i = 0; i < len; i++) {
                    v[i] = Float.intBitsToFloat(rnd.nextInt());
                }
                yield CpuStorage.wrap(v);
            }
            case F64 -> {
                double[] v = new double[len];
                for (int i = 0; i < len; i++) {
                    v[i] = Double.longBitsToDouble(rnd.nextLong());
                }
                yield CpuStorage.wrap(v);
            }
            default -> throw new IllegalArgumentException(dtype.toString());
        };
    }

    private static int[] rawBits(float[] v) {
        int[] r = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = Float.floatToRawIntBits(v[i]);
        }
        return r;
    }

    private static long[] rawBits(double[] v) {
        long[] r = new long[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = Double.doubleToRawLongBits(v[i]);
        }
        return r;
    }
}
