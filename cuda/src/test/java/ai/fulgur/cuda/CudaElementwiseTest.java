package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.BinaryOp;
import ai.fulgur.ops.elementwise.UnaryOp;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Every element-wise CUDA kernel equals the CPU kernel on fresh random inputs, with outputs poisoned first. */
class CudaElementwiseTest extends GpuTest {
    private static final long[][] SHAPES = {{1}, {7}, {113, 203}, {3, 1, 65}, {2, 3, 4, 5}};

    private static double[] domain(UnaryOp op) {
        return switch (op) {
            case LOG, SQRT, RSQRT, RECIPROCAL -> new double[] {0.1, 4};
            case LOG1P -> new double[] {-0.5, 3};
            case POW_SCALAR -> new double[] {0.1, 3};
            default -> new double[] {-3, 3};
        };
    }

    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void unaryMatchesCpu(UnaryOp op) {
        SplittableRandom rnd = new SplittableRandom(op.ordinal());
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (long[] shape : SHAPES) {
                double[] d = domain(op);
                Tensor x = CudaTesting.random(rnd, dtype, d[0], d[1], shape);
                double s = op == UnaryOp.POW_SCALAR ? 1.7 : 0.5;
                DType outType = op.isComparison() ? DType.BOOL : dtype;
                Tensor cpu = Tensor.zeros(Shape.of(shape), outType, Device.CPU);
                Backends.of(Device.CPU).elementwise().unary(op, s, cpu, x);
                Tensor gpu = CudaTesting.poisoned(Shape.of(shape), outType);
                Backends.of(GPU).elementwise().unary(op, s, gpu, x.to(GPU));
                CudaTesting.assertClose(op + " " + dtype, cpu, gpu, CudaTesting.tolerance(dtype));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(BinaryOp.class)
    void binaryMatchesCpuWithBroadcastAndStrides(BinaryOp op) {
        SplittableRandom rnd = new SplittableRandom(100 + op.ordinal());
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.I64}) {
            double lo = op == BinaryOp.POW ? 0.5 : -3;
            Tensor a = CudaTesting.random(rnd, dtype, lo, 3, 4, 1, 65);
            Tensor b = CudaTesting.random(rnd, dtype, op == BinaryOp.MOD || op == BinaryOp.DIV ? 1 : lo, 3, 7, 65);
            if (op == BinaryOp.DIV && !dtype.isFloating()) {
                continue; // integer division produces floats: covered by the facade tests
            }
            Shape out = Shape.of(4, 7, 65);
            DType outType = op.isComparison() ? DType.BOOL : dtype;
            Tensor cpu = Tensor.zeros(out, outType, Device.CPU);
            Backends.of(Device.CPU).elementwise().binary(op, cpu, a.expand(out), b.expand(out));
            Tensor gpu = CudaTesting.poisoned(out, outType);
            Backends.of(GPU).elementwise().binary(op, gpu, a.to(GPU).expand(out), b.to(GPU).transpose(0, 1)
                    .contiguous().transpose(0, 1).expand(out));
            CudaTesting.assertClose(op + " " + dtype, cpu, gpu, CudaTesting.tolerance(dtype));
        }
    }

    @Test
    void copyConvertsEveryDtypePair() {
        SplittableRandom rnd = new SplittableRandom(7);
        DType[] types = {DType.F32, DType.BF16, DType.F16, DType.I64, DType.I32, DType.U8, DType.BOOL, DType.F64};
        for (DType from : types) {
            Tensor x = CudaTesting.random(rnd, from, 0, 100, 17, 9);
            for (DType to : types) {
                Tensor cpu = x.cast(to);
                Tensor gpu = CudaTesting.poisoned(Shape.of(9, 17), to);
                Backends.of(GPU).elementwise().copy(gpu, x.to(GPU).transpose(0, 1));
                CudaTesting.assertClose("copy " + from + " -> " + to, cpu.transpose(0, 1).contiguous(), gpu,
                        CudaTesting.tolerance(to));
            }
        }
    }

    @Test
    void fillAndWhere() {
        Tensor t = CudaTesting.poisoned(Shape.of(5, 6), DType.F32);
        Backends.of(GPU).elementwise().fill(t.slice(1, 1, 4), 2.5);
        double[] v = t.to(Device.CPU).toDoubleArray();
        assertEquals(2.5, v[1], 0);
        assertEquals(Double.NaN, v[0], 0);
        SplittableRandom rnd = new SplittableRandom(3);
        Tensor cond = CudaTesting.random(rnd, DType.BOOL, 0, 2, 8, 9);
        Tensor a = CudaTesting.random(rnd, DType.F32, -1, 1, 8, 9);
        Tensor b = CudaTesting.random(rnd, DType.F32, -1, 1, 9);
        Shape out = Shape.of(8, 9);
        Tensor cpu = Tensor.zeros(out, DType.F32, Device.CPU);
        Backends.of(Device.CPU).elementwise().where(cpu, cond, a, b.expand(out));
        Tensor gpu = CudaTesting.poisoned(out, DType.F32);
        Backends.of(GPU).elementwise().where(gpu, cond.to(GPU), a.to(GPU), b.to(GPU).expand(out));
        CudaTesting.assertClose("where", cpu, gpu, 0);
    }
}
