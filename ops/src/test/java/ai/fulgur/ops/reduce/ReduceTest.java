package ai.fulgur.ops.reduce;

import static ai.fulgur.ops.testing.PyTorch.assertMatches;
import static ai.fulgur.ops.testing.PyTorch.torch;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.elementwise.UnaryOp;
import ai.fulgur.ops.testing.PyTorch;
import ai.fulgur.ops.testing.TestTensors;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link Reduce} against PyTorch: sum, mean, max, min and prod over one axis, several axes and all axes, with and
 * without kept dimensions, on contiguous and strided inputs; arg-max/min with ties (first index, as PyTorch); integer
 * and boolean sums (I64); {@link Reduce#sumToShape} against a float64 loop over the broadcast.
 *
 * <p>F32 results are compared with PyTorch's float64 result on the same (exactly widened) inputs, rounded to F32: our
 * kernels accumulate in double, so the only error left is the final rounding (tolerance 1e-6 relative, 1e-6 absolute
 * for sums that cancel). F64 results match to 1e-12; integer results exactly.
 */
class ReduceTest {
    private static NDManager manager;

    @BeforeAll
    static void open() {
        manager = PyTorch.manager();
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    /** (shape, axes) cases; an empty axes array means all axes. */
    private static final Object[][] CASES = {
        {new long[] {113}, new int[] {0}},
        {new long[] {113}, new int[] {}},
        {new long[] {7, 203}, new int[] {1}},
        {new long[] {7, 203}, new int[] {0}},
        {new long[] {7, 203}, new int[] {-1, 0}},
        {new long[] {3, 4, 5}, new int[] {0, 2}},
        {new long[] {3, 4, 5}, new int[] {1}},
        {new long[] {3, 4, 5}, new int[] {-2, -1}},
        {new long[] {3, 4, 5}, new int[] {}},
        {new long[] {2, 3, 1, 9}, new int[] {2}},
        {new long[] {2, 3, 1, 9}, new int[] {0, 1, 3}},
        {new long[] {1}, new int[] {0}},
        {new long[] {}, new int[] {}},
    };

    private static NDArray torchReduce(ReduceOp op, NDArray x, int[] axes, boolean keepDims) {
        int[] ax = axes.length == 0 ? allAxes(x.getShape().dimension()) : axes;
        if (ax.length == 0) { // rank 0: PyTorch reduces a scalar to itself
            return x.duplicate();
        }
        if (op == ReduceOp.SUM) {
            return x.sum(ax, keepDims);
        }
        // DJL's mean, max, min and prod take one axis: reduce the axes one at a time (a mean of equal-sized means
        // is the mean), keeping dims, then drop them
        int rank = x.getShape().dimension();
        int[] sorted = Arrays.stream(ax).map(a -> a < 0 ? a + rank : a).sorted().toArray();
        NDArray r = x;
        for (int i = sorted.length - 1; i >= 0; i--) {
            int[] one = {sorted[i]};
            r = switch (op) {
                case MAX -> r.max(one, true);
                case MIN -> r.min(one, true);
                case MEAN -> r.mean(one, true);
                default -> r.prod(one, true);
            };
        }
        if (!keepDims) {
            r = r.squeeze(sorted);
        }
        return r;
    }

    private static int[] allAxes(int rank) {
        int[] a = new int[rank];
        for (int i = 0; i < rank; i++) {
            a[i] = i;
        }
        return a;
    }

    private static Tensor input(SplittableRandom rnd, ReduceOp op, long[] shape) {
        // prod of values near 1 stays far from over- and underflow
        return op == ReduceOp.PROD ? TestTensors.uniform(rnd, DType.F64, 0.6, 1.5, shape)
                : TestTensors.uniform(rnd, DType.F64, -3, 3, shape);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(ReduceOp.class)
    void floatReductionsMatchTorch(ReduceOp op) {
        SplittableRandom rnd = new SplittableRandom(op.ordinal());
        for (Object[] c : CASES) {
            long[] shape = (long[]) c[0];
            int[] axes = (int[]) c[1];
            Tensor x64 = input(rnd, op, shape);
            Tensor x32 = x64.cast(DType.F32);
            for (boolean keep : new boolean[] {false, true}) {
                String what = op + " of " + Shape.of(shape) + " over " + Arrays.toString(axes) + " keepDims=" + keep;
                // F32: the float64 result on the widened inputs, rounded to F32
                NDArray ref = torchReduce(op, torch(manager, x32.cast(DType.F64)), axes, keep)
                        .toType(DataType.FLOAT32, false);
                Tensor got32 = Reduce.reduce(op, x32, axes, keep);
                assertMatches(what + " F32", ref, got32, 1e-6, 1e-6);
                assertMatches(what + " F64", torchReduce(op, torch(manager, x64), axes, keep),
                        Reduce.reduce(op, x64, axes, keep), 1e-12, 1e-12);
            }
        }
    }

    @ParameterizedTest(name = "{0} strided")
    @EnumSource(ReduceOp.class)
    void stridedInputsMatchTorch(ReduceOp op) {
        SplittableRandom rnd = new SplittableRandom(100 + op.ordinal());
        Tensor base = input(rnd, op, new long[] {9, 31, 6});
        NDArray tb = torch(manager, base);
        Tensor[] ours = {base.transpose(0, 2), base.slice(1, -25, 31, 3).slice(0, 1, -1, 2),
            base.permute(1, 2, 0), base.slice(2, 2, 3).expand(Shape.of(4, 9, 31, 1))};
        NDArray[] theirs = {tb.transpose(2, 1, 0), tb.get("1:-1:2, -25:31:3, :"), tb.transpose(1, 2, 0),
            tb.get(":, :, 2:3").broadcast(4, 9, 31, 1)};
        int[][] axesList = {{0}, {1}, {-1}, {0, 2}, {}};
        for (int i = 0; i < ours.length; i++) {
            for (int[] axes : axesList) {
                for (boolean keep : new boolean[] {false, true}) {
                    String what = op + " of view " + i + " " + ours[i].shape() + " over " + Arrays.toString(axes)
                            + " keepDims=" + keep;
                    assertMatches(what, torchReduce(op, theirs[i], axes, keep), Reduce.reduce(op, ours[i], axes, keep),
                            1e-12, 1e-12);
                }
            }
        }
    }

    @Test
    void integerAndBooleanReductions() {
        SplittableRandom rnd = new SplittableRandom(5);
        long[] big = new long[4 * 50];
        for (int i = 0; i < big.length; i++) {
            big[i] = rnd.nextLong(-(1L << 55), 1L << 55); // sums exact only in long arithmetic
        }
        Tensor i64 = Tensor.of(big, 4, 50);
        Tensor i32 = TestTensors.indices(rnd, 1000, 6, 7).cast(DType.I32);
        Tensor small = TestTensors.indices(rnd, 5, 3, 4, 5);
        Tensor bool = Elementwise.unary(UnaryOp.GT_SCALAR, TestTensors.uniform(rnd, DType.F32, -1, 1, 5, 113), 0.2);
        for (int[] axes : new int[][] {{0}, {1}, {}}) {
            for (boolean keep : new boolean[] {false, true}) {
                String how = " over " + Arrays.toString(axes) + " keepDims=" + keep;
                Tensor s = Reduce.sum(i64, axes, keep);
                assertEquals(DType.I64, s.dtype());
                assertMatches("sum I64" + how, torchReduce(ReduceOp.SUM, torch(manager, i64), axes, keep), s, 0, 0);
                assertMatches("max I64" + how, torchReduce(ReduceOp.MAX, torch(manager, i64), axes, keep),
                        Reduce.max(i64, axes, keep), 0, 0);
                assertMatches("min I64" + how, torchReduce(ReduceOp.MIN, torch(manager, i64), axes, keep),
                        Reduce.reduce(ReduceOp.MIN, i64, axes, keep), 0, 0);
                assertMatches("sum I32 gives I64" + how, torchReduce(ReduceOp.SUM, torch(manager, i32), axes, keep),
                        Reduce.sum(i32, axes, keep), 0, 0);
                assertMatches("max I32 stays I32" + how, torchReduce(ReduceOp.MAX, torch(manager, i32), axes, keep),
                        Reduce.max(i32, axes, keep), 0, 0);
                assertMatches("prod I64" + how, torchReduce(ReduceOp.PROD, torch(manager, small), axes, keep),
                        Reduce.reduce(ReduceOp.PROD, small, axes, keep), 0, 0);
                Tensor count = Reduce.sum(bool, axes, keep);
                assertEquals(DType.I64, count.dtype(), "sum of BOOL");
                assertMatches("sum BOOL" + how, torchReduce(ReduceOp.SUM, torch(manager, bool), axes, keep), count,
                        0, 0);
            }
        }
    }

    @Test
    void nanPropagatesThroughMaxAndMin() {
        Tensor x = Tensor.of(new double[] {1, Double.NaN, 3, 4, 5, 6}, 2, 3);
        for (ReduceOp op : new ReduceOp[] {ReduceOp.MAX, ReduceOp.MIN, ReduceOp.SUM}) {
            assertMatches(op + " with NaN", torchReduce(op, torch(manager, x), new int[] {1}, false),
                    Reduce.reduce(op, x, new int[] {1}, false), 0, 0);
        }
        assertMatches("argmax with NaN", torch(manager, x).argMax(1), Reduce.argMax(x, 1, false), 0, 0);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // arg reductions

    /** Index of the first largest (or smallest) element of each row along {@code axis}: the definition, as a loop. */
    private static long[] argLoop(double[] v, long[] shape, int axis, boolean max) {
        long outer = 1;
        for (int i = 0; i < axis; i++) {
            outer *= shape[i];
        }
        long n = shape[axis];
        long inner = 1;
        for (int i = axis + 1; i < shape.length; i++) {
            inner *= shape[i];
        }
        long[] out = new long[(int) (outer * inner)];
        for (int o = 0; o < outer; o++) {
            for (int q = 0; q < inner; q++) {
                int best = 0;
                for (int j = 1; j < n; j++) {
                    double cand = v[(int) ((o * n + j) * inner + q)];
                    double cur = v[(int) ((o * n + best) * inner + q)];
                    if (max ? cand > cur : cand < cur) {
                        best = j;
                    }
                }
                out[(int) (o * inner + q)] = best;
            }
        }
        return out;
    }

    @Test
    void argMaxAndArgMinTakeTheFirstOfTies() {
        SplittableRandom rnd = new SplittableRandom(21);
        long[][] shapes = {{113}, {7, 203}, {3, 4, 5}, {2, 9, 1}};
        for (long[] shape : shapes) {
            double[] v = new double[(int) Shape.of(shape).numel()];
            for (int i = 0; i < v.length; i++) {
                v[i] = rnd.nextInt(4); // many ties
            }
            for (DType dtype : new DType[] {DType.F32, DType.F64, DType.I64}) {
                Tensor x = Tensor.of(v, shape).cast(dtype);
                for (int axis = 0; axis < shape.length; axis++) {
                    for (boolean max : new boolean[] {true, false}) {
                        String what = (max ? "argMax " : "argMin ") + dtype + " " + Shape.of(shape) + " axis " + axis;
                        Tensor got = max ? Reduce.argMax(x, axis, false) : Reduce.argMin(x, axis, false);
                        assertEquals(DType.I64, got.dtype(), what);
                        assertArrayEquals(x.shape().without(axis).dims(), got.shape().dims(), what);
                        assertArrayEquals(argLoop(v, shape, axis, max), got.toLongArray(), what);
                        NDArray t = torch(manager, x);
                        assertMatches(what + " vs PyTorch", max ? t.argMax(axis) : t.argMin(axis), got, 0, 0);
                        Tensor kept = max ? Reduce.argMax(x, axis - shape.length, true)
                                : Reduce.argMin(x, axis - shape.length, true);
                        assertArrayEquals(x.shape().with(axis, 1).dims(), kept.shape().dims(), what + " keepDims");
                        assertArrayEquals(got.toLongArray(), kept.toLongArray(), what + " keepDims");
                    }
                }
            }
        }
        // I64 values past 2^53 differ only in long arithmetic (as doubles, 2^53 and 2^53 + 1 tie)
        Tensor big = Tensor.of(new long[] {1L << 53, (1L << 53) + 1, -(1L << 53) - 1, -(1L << 53)}, 2, 2);
        assertArrayEquals(new long[] {0, 0}, Reduce.argMax(big, 0, false).toLongArray());
        assertArrayEquals(new long[] {1, 1}, Reduce.argMax(big, 1, false).toLongArray());
        assertArrayEquals(new long[] {0, 0}, Reduce.argMin(big, 1, false).toLongArray());
        assertMatches("argMax of I64 past 2^53", torch(manager, big).argMax(1), Reduce.argMax(big, 1, false), 0, 0);
        // a transposed view: ties resolved by logical index, not by storage order
        double[] v = {2, 2, 1, 2, 0, 2};
        Tensor t = Tensor.of(v, 2, 3).transpose(0, 1); // (3, 2): rows [2, 2], [2, 0], [1, 2]
        assertArrayEquals(new long[] {0, 0, 1}, Reduce.argMax(t, 1, false).toLongArray());
        assertArrayEquals(new long[] {2, 1}, Reduce.argMin(t, 0, false).toLongArray());
        assertArrayEquals(new long[] {0, 0}, Reduce.argMax(t, 0, false).toLongArray());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // sumToShape

    /** Sums grad into target by broadcasting's index map (target axes of size 1 and missing leading axes collapse). */
    private static double[] sumToShapeLoop(Tensor grad, Shape target) {
        double[] g = grad.toDoubleArray();
        double[] out = new double[(int) target.numel()];
        long[] gd = grad.shape().dims();
        int lead = gd.length - target.rank();
        long[] idx = new long[gd.length];
        for (int e = 0; e < g.length; e++) {
            long rem = e;
            for (int a = gd.length - 1; a >= 0; a--) {
                idx[a] = rem % gd[a];
                rem /= gd[a];
            }
            long pos = 0;
            for (int a = 0; a < target.rank(); a++) {
                long i = target.dim(a) == 1 ? 0 : idx[lead + a];
                pos = pos * target.dim(a) + i;
            }
            out[(int) pos] += g[e];
        }
        return out;
    }

    @Test
    void sumToShapeIsTheAdjointOfBroadcasting() {
        SplittableRandom rnd = new SplittableRandom(8);
        Tensor grad = TestTensors.uniform(rnd, DType.F64, -1, 1, 3, 4, 5);
        Shape[] targets = {Shape.of(4, 1), Shape.of(1, 5), Shape.of(5), Shape.of(3, 1, 1), Shape.of(1, 4, 5),
            Shape.scalar(), Shape.of(1), Shape.of(3, 4, 1), Shape.of(1, 1, 1)};
        for (Shape target : targets) {
            Tensor got = Reduce.sumToShape(grad, target);
            assertEquals(target, got.shape());
            TestTensors.assertClose("sumToShape " + grad.shape() + " to " + target,
                    Tensor.of(sumToShapeLoop(grad, target), target.dims()), got, 1e-12, 1e-12);
        }
        Tensor g32 = grad.cast(DType.F32).transpose(0, 2); // (5, 4, 3), strided
        Tensor got = Reduce.sumToShape(g32, Shape.of(4, 1));
        TestTensors.assertClose("sumToShape of a transposed F32 gradient",
                Tensor.of(sumToShapeLoop(g32.cast(DType.F64), Shape.of(4, 1)), 4, 1), got, 1e-6, 1e-6);
        assertSame(grad, Reduce.sumToShape(grad, grad.shape()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Reduce.sumToShape(Tensor.zeros(Shape.of(5), DType.F32, Device.CPU), Shape.of(2, 5)));
        assertTrue(e.getMessage().contains("(5)") && e.getMessage().contains("(2, 5)"), e.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // errors

    @Test
    void badArgumentsAreNamed() {
        Tensor x = Tensor.zeros(Shape.of(2, 3), DType.F32, Device.CPU);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Reduce.sum(x, new int[] {1, -1}, false));
        assertTrue(e.getMessage().contains("repeated"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Reduce.sum(x, new int[] {2}, false));
        assertTrue(e.getMessage().contains("axis 2") && e.getMessage().contains("(2, 3)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Reduce.mean(Tensor.zeros(Shape.of(4), DType.I64, Device.CPU), new int[0], false));
        assertTrue(e.getMessage().contains("mean") && e.getMessage().contains("I64"), e.getMessage());
        Tensor empty = Tensor.zeros(Shape.of(3, 0), DType.F32, Device.CPU);
        e = assertThrows(IllegalArgumentException.class, () -> Reduce.max(empty, new int[] {1}, false));
        assertTrue(e.getMessage().contains("max") && e.getMessage().contains("empty"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Reduce.argMin(empty, 1, false));
        assertTrue(e.getMessage().contains("argmin") && e.getMessage().contains("(3, 0)"), e.getMessage());
        // sums over an empty axis are 0, as in PyTorch
        assertArrayEquals(new double[] {0, 0, 0}, Reduce.sum(empty, new int[] {1}, false).toDoubleArray());
    }
}
