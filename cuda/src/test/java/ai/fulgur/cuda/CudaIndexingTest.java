package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Gathers and scatter-adds on the GPU equal the CPU kernels: every copy width (row lengths of 1 to 768 elements of
 * 1- to 8-byte types, rows at odd offsets), I32 and I64 indices with many repeats, embedding-sized tables, gather and
 * scatterAdd along every axis of a rank-3 tensor; outputs poisoned first.
 */
class CudaIndexingTest extends GpuTest {

    private static Tensor indices(SplittableRandom rnd, long count, long bound, DType type, long... shape) {
        long[] v = new long[(int) count];
        for (int i = 0; i < v.length; i++) {
            v[i] = rnd.nextLong(bound);
        }
        Tensor host = Tensor.of(v, shape.length == 0 ? new long[] {count} : shape);
        return type == DType.I64 ? host : host.cast(type);
    }

    @Test
    void indexSelectMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(31);
        long[][] pnq = {{1, 50, 768}, {1, 1000, 13}, {3, 11, 1}, {2, 17, 8}, {1, 5, 3}, {4, 9, 6}};
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16, DType.F64, DType.I64, DType.I32, DType.U8}) {
            for (long[] s : pnq) {
                for (DType indexType : new DType[] {DType.I64, DType.I32}) {
                    for (int pad : new int[] {0, 1}) {
                        long p = s[0];
                        long n = s[1];
                        long q = s[2];
                        long count = 2 * n + 3; // repeats
                        Tensor x = CudaTesting.random(rnd, dtype, -50, 50, p, n, q);
                        Tensor index = indices(rnd, count, n, indexType);
                        Tensor cpu = Tensor.zeros(Shape.of(p, count, q), dtype, Device.CPU);
                        Backends.of(Device.CPU).indexing().indexSelect(cpu, x, index, 1);
                        Tensor gpu = CudaTesting.poisoned(Shape.of(p, count, q), dtype);
                        Backends.of(GPU).indexing().indexSelect(gpu, CudaLossTest.onGpuAt(x, pad), index.to(GPU), 1);
                        CudaTesting.assertClose("indexSelect " + dtype + " (P,N,Q)=(" + p + "," + n + "," + q
                                + ") index " + indexType + " pad " + pad, cpu, gpu, 0);
                    }
                }
            }
        }
    }

    @Test
    void indexSelectOutOfRangeFillsNaN() {
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 1, 3, 2).to(GPU);
        Tensor index = Tensor.of(new long[] {2, 3, -1, 0}, 4).to(GPU);
        Tensor out = CudaTesting.poisoned(Shape.of(1, 4, 2), DType.F32);
        Backends.of(GPU).indexing().indexSelect(out, x, index, 1);
        double[] o = out.toDoubleArray();
        assertEquals(5, o[0], 0);
        assertEquals(6, o[1], 0);
        assertTrue(Double.isNaN(o[2]) && Double.isNaN(o[3]) && Double.isNaN(o[4]) && Double.isNaN(o[5]));
        assertEquals(1, o[6], 0);
        CudaBackend.device(GPU).synchronize();
    }

    @Test
    void indexAddMatchesCpu() {
        SplittableRandom rnd = new SplittableRandom(32);
        long[][] pnq = {{1, 4000, 768}, {1, 50, 13}, {3, 11, 1}, {2, 17, 8}};
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16, DType.F64, DType.I64, DType.I32}) {
            for (long[] s : pnq) {
                long p = s[0];
                long n = s[1];
                long q = s[2];
                long count = Math.min(3 * n, 1024);
                DType indexType = n % 2 == 0 ? DType.I64 : DType.I32;
                String what = "indexAdd " + dtype + " (P,N,Q)=(" + p + "," + n + "," + q + ") I=" + count;
                Tensor dx = CudaTesting.random(rnd, dtype, -10, 10, p, n, q);
                Tensor src = CudaTesting.random(rnd, dtype, -10, 10, p, count, q);
                // small index range: many repeats per row
                Tensor index = indices(rnd, count, Math.max(1, n / 8), indexType);
                Tensor gpu = dx.to(GPU);
                Backends.of(GPU).indexing().indexAdd(gpu, src.to(GPU), index.to(GPU), 1);
                if (dtype.isHalf()) {
                    // the GPU adds in F32 and rounds once: compare with an F32 sum rounded to the dtype
                    Tensor ref = dx.cast(DType.F32).copy();
                    Backends.of(Device.CPU).indexing().indexAdd(ref, src.cast(DType.F32), index, 1);
                    CudaTesting.assertClose(what, ref.cast(dtype), gpu, CudaTesting.tolerance(dtype));
                } else {
                    Tensor cpu = dx.copy();
                    Backends.of(Device.CPU).indexing().indexAdd(cpu, src, index, 1);
                    CudaTesting.assertClose(what, cpu, gpu, dtype == DType.F64 ? 1e-12 : CudaTesting.tolerance(dtype));
                }
            }
        }
    }

    @Test
    void gatherAndScatterAddMatchCpuOnEveryAxis() {
        SplittableRandom rnd = new SplittableRandom(33);
        long[] xShape = {5, 7, 9};
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16, DType.F64, DType.I64}) {
            for (int axis = 0; axis < 3; axis++) {
                long[] indexShape = {4, 6, 9}; // smaller than x on some axes, as torch.gather allows
                indexShape[axis] = 11; // longer than x along the axis: repeats
                long count = Shape.of(indexShape).numel();
                DType indexType = axis == 1 ? DType.I32 : DType.I64;
                Tensor x = CudaTesting.random(rnd, dtype, -20, 20, xShape);
                Tensor index = indices(rnd, count, xShape[axis], indexType, indexShape);
                String what = dtype + " axis " + axis + " index " + indexType;

                Tensor cpu = Tensor.zeros(Shape.of(indexShape), dtype, Device.CPU);
                Backends.of(Device.CPU).indexing().gather(cpu, x, index, axis);
                Tensor gpu = CudaTesting.poisoned(Shape.of(indexShape), dtype);
                Backends.of(GPU).indexing().gather(gpu, x.to(GPU), index.to(GPU), axis);
                CudaTesting.assertClose("gather " + what, cpu, gpu, 0);

                Tensor src = CudaTesting.random(rnd, dtype, -20, 20, indexShape);
                Tensor gdx = Tensor.zeros(Shape.of(xShape), dtype, GPU);
                Backends.of(GPU).indexing().scatterAdd(gdx, src.to(GPU), index.to(GPU), axis);
                if (dtype.isHalf()) {
                    Tensor ref = Tensor.zeros(Shape.of(xShape), DType.F32, Device.CPU);
                    Backends.of(Device.CPU).indexing().scatterAdd(ref, src.cast(DType.F32), index, axis);
                    CudaTesting.assertClose("scatterAdd " + what, ref.cast(dtype), gdx, CudaTesting.tolerance(dtype));
                } else {
                    Tensor cdx = Tensor.zeros(Shape.of(xShape), dtype, Device.CPU);
                    Backends.of(Device.CPU).indexing().scatterAdd(cdx, src, index, axis);
                    CudaTesting.assertClose("scatterAdd " + what, cdx, gdx,
                            dtype == DType.F64 ? 1e-12 : CudaTesting.tolerance(dtype));
                }
            }
        }
    }
}
