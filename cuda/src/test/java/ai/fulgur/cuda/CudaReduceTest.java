package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.reduce.ReduceOp;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every CUDA reduction equals the CPU kernel on fresh random inputs, outputs poisoned first: the row kernel (warp and
 * block per row, split rows), the column kernel (split columns), the permute-and-copy path, argmax/argmin with ties
 * and NaN.
 */
class CudaReduceTest extends GpuTest {
    private static final long[] COLUMNS = {1, 7, 113, 1023, 4097};
    private static final DType[] DTYPES = {DType.F32, DType.BF16, DType.F16, DType.F64, DType.I64, DType.I32,
        DType.BOOL};

    private static DType outType(ReduceOp op, DType x) {
        return (op == ReduceOp.SUM || op == ReduceOp.PROD) && !x.isFloating() ? DType.I64 : x;
    }

    /** Random inputs for op: products of values near 1 stay representable; integers small. */
    private static Tensor input(SplittableRandom rnd, ReduceOp op, DType dtype, long... shape) {
        if (dtype == DType.BOOL) {
            return CudaTesting.random(rnd, dtype, 0, 2, shape);
        }
        if (op == ReduceOp.PROD) {
            return dtype.isFloating() ? CudaTesting.random(rnd, dtype, 0.9, 1.1, shape)
                    : CudaTesting.random(rnd, dtype, -3, 4, shape);
        }
        return dtype.isFloating() ? CudaTesting.random(rnd, dtype, -1, 1, shape)
                : CudaTesting.random(rnd, dtype, -50, 50, shape);
    }

    private static Shape kept(Shape s, int[] axes) {
        long[] d = s.dims();
        for (int a : axes) {
            d[a] = 1;
        }
        return Shape.of(d);
    }

    /** Reduces host x on the CPU and xGpu (the same values, any layout) on the GPU, and compares. */
    private static Tensor check(ReduceOp op, Tensor x, Tensor xGpu, int... axes) {
        DType out = outType(op, x.dtype());
        Shape shape = kept(x.shape(), axes);
        Tensor cpu = Tensor.zeros(shape, out, Device.CPU);
        Backends.of(Device.CPU).reduce().reduce(op, cpu, x, axes);
        Tensor gpu = CudaTesting.poisoned(shape, out);
        Backends.of(GPU).reduce().reduce(op, gpu, xGpu, axes);
        CudaTesting.assertClose(op + " " + x.dtype() + " " + x.shape() + " axes " + Arrays.toString(axes), cpu, gpu,
                CudaTesting.tolerance(out));
        return gpu;
    }

    @ParameterizedTest
    @EnumSource(ReduceOp.class)
    void rowsMatchCpu(ReduceOp op) {
        SplittableRandom rnd = new SplittableRandom(10 + op.ordinal());
        for (DType dtype : DTYPES) {
            if (op == ReduceOp.MEAN && !dtype.isFloating()) {
                continue; // the facade rejects it
            }
            for (long c : COLUMNS) {
                for (long rows : new long[] {1, 3, 37}) {
                    Tensor x = input(rnd, op, dtype, rows, c);
                    check(op, x, x.to(GPU), 1);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(ReduceOp.class)
    void columnsSplitsAndPermutedAxesMatchCpu(ReduceOp op) {
        SplittableRandom rnd = new SplittableRandom(20 + op.ordinal());
        // shape, axes: middle block, first axis (split columns), first axis short, two separated axes (copy path),
        // every axis (one split row), one long row (split), a size-1 reduced axis, size-1 axes around the block
        Object[][] cases = {
            {new long[] {5, 37, 7}, new int[] {1}},
            {new long[] {4097, 3}, new int[] {0}},
            {new long[] {7, 1023}, new int[] {0}},
            {new long[] {2, 3, 4, 5}, new int[] {0, 2}},
            {new long[] {113, 203}, new int[] {0, 1}},
            {new long[] {1, 100003}, new int[] {1}},
            {new long[] {6, 1, 9}, new int[] {1}},
            {new long[] {1, 300, 1, 65}, new int[] {1, 2}},
        };
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F64, DType.I64}) {
            if (op == ReduceOp.MEAN && !dtype.isFloating()) {
                continue;
            }
            for (Object[] cs : cases) {
                Tensor x = input(rnd, op, dtype, (long[]) cs[0]);
                check(op, x, x.to(GPU), (int[]) cs[1]);
            }
            // a transposed (non-contiguous) input, reduced over either axis
            Tensor t = input(rnd, op, dtype, 203, 113);
            check(op, t.transpose(0, 1), t.to(GPU).transpose(0, 1), 1);
            check(op, t.transpose(0, 1), t.to(GPU).transpose(0, 1), 0);
        }
    }

    @Test
    void nanPropagatesThroughMaxMinAndSum() {
        for (long c : new long[] {1023, 4097, 100003}) {
            double[] v = new double[(int) (3 * c)];
            SplittableRandom rnd = new SplittableRandom(c);
            for (int i = 0; i < v.length; i++) {
                v[i] = rnd.nextDouble() * 2 - 1;
            }
            v[(int) (c / 2)] = Double.NaN; // row 0
            v[(int) (2 * c + c - 1)] = Double.NaN; // row 2, last column
            for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
                Tensor x = Tensor.of(v, 3, c).cast(dtype);
                for (ReduceOp op : new ReduceOp[] {ReduceOp.MAX, ReduceOp.MIN, ReduceOp.SUM}) {
                    check(op, x, x.to(GPU), 1);
                }
            }
        }
    }

    @Test
    void emptyAxesGiveTheIdentity() {
        Tensor x = Tensor.zeros(Shape.of(4, 0), DType.F32, Device.CPU);
        for (ReduceOp op : new ReduceOp[] {ReduceOp.SUM, ReduceOp.MEAN, ReduceOp.PROD}) {
            check(op, x, x.to(GPU), 1);
        }
    }

    @Test
    void splitReductionsAreDeterministic() {
        SplittableRandom rnd = new SplittableRandom(5);
        Tensor row = CudaTesting.random(rnd, DType.F32, -1, 1, 1, 1 << 20).to(GPU);
        Tensor col = CudaTesting.random(rnd, DType.F32, -1, 1, 1 << 16, 3).to(GPU);
        assertArrayEquals(sum(row, 1), sum(row, 1));
        assertArrayEquals(sum(col, 0), sum(col, 0));
    }

    private static double[] sum(Tensor x, int axis) {
        Tensor out = CudaTesting.poisoned(kept(x.shape(), new int[] {axis}), x.dtype());
        Backends.of(GPU).reduce().reduce(ReduceOp.SUM, out, x, new int[] {axis});
        return out.toDoubleArray();
    }

    // -----------------------------------------------------------------------------------------------------------------
    // argmax / argmin

    private static void checkArg(boolean max, Tensor x, Tensor xGpu, int axis) {
        Shape shape = x.shape().with(axis, 1);
        Tensor cpu = Tensor.zeros(shape, DType.I64, Device.CPU);
        Backends.of(Device.CPU).reduce().argReduce(max, cpu, x, axis);
        Tensor gpu = CudaTesting.poisoned(shape, DType.I64);
        Backends.of(GPU).reduce().argReduce(max, gpu, xGpu, axis);
        CudaTesting.assertClose((max ? "argmax " : "argmin ") + x.dtype() + " " + x.shape() + " axis " + axis, cpu,
                gpu, 0);
    }

    @Test
    void argReduceMatchesCpuWithTies() {
        SplittableRandom rnd = new SplittableRandom(30);
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16, DType.F64, DType.I64, DType.I32}) {
            for (long c : COLUMNS) {
                for (boolean max : new boolean[] {true, false}) {
                    // six distinct values, so most rows have ties: the first index must win
                    Tensor rows = CudaTesting.random(rnd, DType.I64, 0, 6, 37, c).cast(dtype);
                    checkArg(max, rows, rows.to(GPU), 1);
                    Tensor cols = CudaTesting.random(rnd, DType.I64, 0, 6, c, 5).cast(dtype);
                    checkArg(max, cols, cols.to(GPU), 0);
                    Tensor middle = CudaTesting.random(rnd, dtype, -100, 100, 2, c, 3);
                    checkArg(max, middle, middle.to(GPU), 1);
                    checkArg(max, middle.transpose(0, 2), middle.to(GPU).transpose(0, 2), 1);
                }
            }
        }
    }

    @Test
    void argReduceTakesTheFirstNaN() {
        for (long c : new long[] {7, 1023, 4097}) {
            double[] v = new double[(int) (2 * c)];
            SplittableRandom rnd = new SplittableRandom(c);
            for (int i = 0; i < v.length; i++) {
                v[i] = rnd.nextDouble();
            }
            v[(int) (c - 1)] = Double.NaN; // row 0: one NaN at the end
            v[(int) (c + c / 3)] = Double.NaN; // row 1: two NaNs, the first wins
            v[(int) (c + c / 2)] = Double.NaN;
            for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
                Tensor x = Tensor.of(v, 2, c).cast(dtype);
                checkArg(true, x, x.to(GPU), 1);
                checkArg(false, x, x.to(GPU), 1);
            }
        }
    }
}
