package ai.fulgur.ops;

import static ai.fulgur.ops.testing.PyTorch.assertMatches;
import static ai.fulgur.ops.testing.PyTorch.torch;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.testing.PyTorch;
import ai.fulgur.ops.testing.TestTensors;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Tensor}'s views and copies against PyTorch doing the same view of the same data: reshape (with -1), permute,
 * transpose, slice (steps, negative and out-of-range bounds), select, squeeze/unsqueeze, expand, contiguous and copy.
 * Each view's strides are also checked against their definition (a view never copies), and writes through a view
 * must land in the base.
 */
class TensorTest {
    private static NDManager manager;

    @BeforeAll
    static void open() {
        manager = PyTorch.manager();
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private static Tensor iota(long... shape) {
        double[] v = new double[(int) Shape.of(shape).numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        return Tensor.of(v, shape);
    }

    @Test
    void reshapeInfersMinusOneAndMatchesTorch() {
        Tensor x = TestTensors.uniform(new SplittableRandom(1), DType.F64, -1, 1, 2, 3, 4);
        NDArray t = torch(manager, x);
        long[][] targets = {{6, 4}, {-1, 4}, {2, -1}, {24}, {-1}, {4, 3, 2}, {1, 24, 1}, {2, 3, 2, -1}};
        for (long[] target : targets) {
            Tensor r = x.reshape(target);
            assertSame(x.storage(), r.storage(), "reshape of a contiguous tensor is a view");
            assertMatches("reshape to " + Arrays.toString(target), t.reshape(target), r, 0, 0);
        }
        // a transposed (non-contiguous) tensor reshapes into a copy in logical order
        Tensor xt = x.transpose(0, 2); // (4, 3, 2)
        Tensor r = xt.reshape(-1, 6);
        assertMatches("reshape of a transposed tensor", t.transpose(2, 1, 0).reshape(-1, 6), r, 0, 0);
        assertTrue(r.isContiguous());
        Tensor s = Tensor.scalar(3.5, DType.F32, Device.CPU).reshape(1, 1);
        assertArrayEquals(new long[] {1, 1}, s.shape().dims());
        assertEquals(3.5, s.item());
        assertArrayEquals(new long[] {0, 5}, Tensor.zeros(Shape.of(0, 5), DType.F32, Device.CPU).reshape(-1, 5)
                .shape().dims());
    }

    @Test
    void reshapeErrorsNameTheShapes() {
        Tensor x = Tensor.zeros(Shape.of(2, 3, 4), DType.F32, Device.CPU);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> x.reshape(5, 5));
        assertTrue(e.getMessage().contains("(2, 3, 4)") && e.getMessage().contains("[5, 5]")
                && e.getMessage().contains("24"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> x.reshape(-1, -1));
        assertTrue(e.getMessage().contains("-1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> x.reshape(-1, 5));
        assertTrue(e.getMessage().contains("infer"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> x.reshape(-2, 12));
        assertTrue(e.getMessage().contains("negative"), e.getMessage());
    }

    @Test
    void permuteAndTransposeAreViewsMatchingTorch() {
        Tensor x = TestTensors.uniform(new SplittableRandom(2), DType.F32, -1, 1, 2, 3, 4, 5);
        NDArray t = torch(manager, x);
        long[] st = x.strides();
        int[][] orders = {{3, 2, 1, 0}, {0, 2, 1, 3}, {1, 3, 0, 2}, {-1, 0, -2, 1}};
        for (int[] order : orders) {
            Tensor p = x.permute(order);
            int[] norm = Arrays.stream(order).map(a -> a < 0 ? a + 4 : a).toArray();
            for (int i = 0; i < 4; i++) {
                assertEquals(x.shape().dim(norm[i]), p.shape().dim(i));
                assertEquals(st[norm[i]], p.stride(i), "stride " + i + " of permute " + Arrays.toString(order));
            }
            assertSame(x.storage(), p.storage());
            assertMatches("permute " + Arrays.toString(order), t.transpose(norm), p, 0, 0);
        }
        assertMatches("transpose(1, -1)", t.swapAxes(1, 3), x.transpose(1, -1), 0, 0);
        assertFalse(x.transpose(0, 1).isContiguous());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> x.permute(0, 1, 1, 2));
        assertTrue(e.getMessage().contains("repeats"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> x.permute(0, 1));
        assertTrue(e.getMessage().contains("(2, 3, 4, 5)"), e.getMessage());
    }

    @Test
    void sliceWithStepsAndNegativeBoundsMatchesTorch() {
        Tensor x = iota(9, 31);
        NDArray t = torch(manager, x);
        Object[][] cases = { // axis, start, end, step, PyTorch index
            {1, 1L, -1L, 2L, ":, 1:-1:2"},
            {0, -7L, 100L, 3L, "-7:100:3, :"},
            {1, -100L, 5L, 1L, ":, -100:5"},
            {1, 30L, 31L, 4L, ":, 30:31:4"},
            {0, 4L, 4L, 1L, "4:4, :"},
            {0, 6L, 2L, 1L, "6:2, :"},
            {-1, 0L, 31L, 31L, ":, 0:31:31"},
            {-2, -1L, 9L, 2L, "-1:9:2, :"},
        };
        for (Object[] c : cases) {
            int axis = (int) c[0];
            Tensor s = x.slice(axis, (long) c[1], (long) c[2], (long) c[3]);
            assertSame(x.storage(), s.storage());
            assertMatches("slice " + c[4], t.get((String) c[4]), s, 0, 0);
        }
        // a slice of a slice of a transposed view
        Tensor v = x.transpose(0, 1).slice(0, 3, -3, 5).slice(1, -8, -1, 3);
        assertMatches("slice of a transposed slice", t.transpose(1, 0).get("3:-3:5, -8:-1:3"), v, 0, 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> x.slice(0, 0, 5, 0));
        assertTrue(e.getMessage().contains("step") && e.getMessage().contains("0"), e.getMessage());
    }

    @Test
    void selectSqueezeUnsqueezeMatchTorch() {
        Tensor x = iota(3, 1, 4);
        NDArray t = torch(manager, x);
        assertMatches("select(0, 1)", t.get("1, :, :"), x.select(0, 1), 0, 0);
        assertMatches("select(-1, -1)", t.get(":, :, -1"), x.select(-1, -1), 0, 0);
        assertMatches("select(2, 2) of transposed", t.transpose(2, 1, 0).get("2, :, :"), x.transpose(0, 2).select(0, 2),
                0, 0);
        assertMatches("squeeze(1)", t.squeeze(1), x.squeeze(1), 0, 0);
        assertMatches("unsqueeze(0)", t.expandDims(0), x.unsqueeze(0), 0, 0);
        assertMatches("unsqueeze(3)", t.expandDims(3), x.unsqueeze(3), 0, 0);
        assertMatches("unsqueeze(-1)", t.expandDims(3), x.unsqueeze(-1), 0, 0);
        assertMatches("unsqueeze(-2)", t.expandDims(2), x.unsqueeze(-2), 0, 0);
        Tensor scalar = x.select(0, 2).select(0, 0).select(0, 3);
        assertEquals(0, scalar.rank());
        assertEquals(2 * 4 + 3, scalar.item());
        IndexOutOfBoundsException oob = assertThrows(IndexOutOfBoundsException.class, () -> x.select(2, 4));
        assertTrue(oob.getMessage().contains("index 4") && oob.getMessage().contains("size 4"), oob.getMessage());
        oob = assertThrows(IndexOutOfBoundsException.class, () -> x.select(0, -4));
        assertTrue(oob.getMessage().contains("-4") && oob.getMessage().contains("size 3"), oob.getMessage());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> x.squeeze(0));
        assertTrue(e.getMessage().contains("size is 3"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> x.unsqueeze(5));
        assertTrue(e.getMessage().contains("unsqueeze axis 5"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> x.select(3, 0));
        assertTrue(e.getMessage().contains("axis 3"), e.getMessage());
    }

    @Test
    void expandRepeatsWithStrideZero() {
        Tensor x = iota(3, 1);
        Tensor e = x.expand(Shape.of(2, 3, 4));
        assertArrayEquals(new long[] {0, 1, 0}, e.strides());
        assertMatches("expand (3, 1) to (2, 3, 4)", torch(manager, x).broadcast(2, 3, 4), e, 0, 0);
        assertSame(x, x.expand(x.shape()));
        IllegalArgumentException err = assertThrows(IllegalArgumentException.class, () -> x.expand(Shape.of(3, 2, 4)));
        assertTrue(err.getMessage().contains("(3, 1)") && err.getMessage().contains("(3, 2, 4)"), err.getMessage());
        err = assertThrows(IllegalArgumentException.class, () -> x.expand(Shape.of(3)));
        assertTrue(err.getMessage().contains("lower-rank"), err.getMessage());
    }

    @Test
    void contiguousCopyAndViewsShareOrNotAsDocumented() {
        Tensor x = iota(4, 6);
        assertSame(x, x.contiguous());
        Tensor t = x.transpose(0, 1);
        Tensor c = t.contiguous();
        assertNotSame(t, c);
        assertTrue(c.isContiguous());
        assertArrayEquals(new long[] {4, 1}, c.strides());
        assertMatches("contiguous of transposed", torch(manager, x).transpose(1, 0), c, 0, 0);
        Tensor copy = x.copy();
        assertNotSame(x.storage(), copy.storage());
        Elementwise.fill(copy, -1);
        assertEquals(5.0, x.toDoubleArray()[5], "writing the copy leaves the original alone");
        // a write through a view lands in the base
        Elementwise.fill(x.slice(1, 1, 6, 2).select(0, 2), 100);
        double[] v = x.toDoubleArray();
        for (int i = 0; i < 24; i++) {
            boolean inView = i / 6 == 2 && i % 6 % 2 == 1;
            assertEquals(inView ? 100 : i, v[i], "element " + i);
        }
        // contiguity with size-1 axes ignores their strides
        Tensor one = new Tensor(x.storage(), Shape.of(1, 4), new long[] {99, 1}, 2);
        assertTrue(one.isContiguous());
        assertArrayEquals(new double[] {2, 3, 4, 5}, one.toDoubleArray());
        Tensor cast = x.cast(DType.I32);
        assertEquals(DType.I32, cast.dtype());
        assertSame(x, x.cast(DType.F64));
    }

    @Test
    void creationChecksElementCounts() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.of(new float[5], 2, 3));
        assertTrue(e.getMessage().contains("(2, 3)") && e.getMessage().contains("5"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Shape.of(2, -1));
        assertTrue(e.getMessage().contains("negative"), e.getMessage());
        IllegalStateException s = assertThrows(IllegalStateException.class, () -> iota(2).item());
        assertTrue(s.getMessage().contains("(2)"), s.getMessage());
    }
}
