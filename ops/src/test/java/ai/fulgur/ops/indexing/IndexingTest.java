package ai.fulgur.ops.indexing;

import static ai.fulgur.ops.testing.PyTorch.assertMatches;
import static ai.fulgur.ops.testing.PyTorch.torch;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.testing.PyTorch;
import ai.fulgur.ops.testing.TestTensors;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Indexing}: concat and stack against PyTorch; gather against PyTorch's gather; index selection, embedding
 * lookup and the scatter-add adjoints (embedding backward with repeated indices, indexAddInto, scatterAdd) against
 * float64 loops written from the definitions; out-of-range indices rejected with the position and value.
 */
class IndexingTest {
    private static NDManager manager;

    @BeforeAll
    static void open() {
        manager = PyTorch.manager();
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // concat and stack

    @Test
    void concatMatchesTorch() {
        SplittableRandom rnd = new SplittableRandom(1);
        for (DType dtype : new DType[] {DType.F32, DType.F64, DType.I64}) {
            Tensor a = TestTensors.uniform(rnd, DType.F64, -9, 9, 3, 4, 5).cast(dtype);
            Tensor b = TestTensors.uniform(rnd, DType.F64, -9, 9, 3, 2, 5).cast(dtype);
            Tensor c = TestTensors.uniform(rnd, DType.F64, -9, 9, 3, 1, 5).cast(dtype);
            Tensor empty = Tensor.zeros(Shape.of(3, 0, 5), dtype, Device.CPU);
            NDList parts = new NDList(torch(manager, a), torch(manager, b), torch(manager, c));
            assertMatches("concat axis 1 " + dtype, NDArrays.concat(parts, 1),
                    Indexing.concat(List.of(a, b, empty, c), 1), 0, 0);
            assertMatches("concat axis -2 " + dtype, NDArrays.concat(parts, 1),
                    Indexing.concat(List.of(a, b, c), -2), 0, 0);
            // strided parts: transposed and stepped views, along the first and last axes
            Tensor at = a.transpose(0, 2); // (5, 4, 3)
            Tensor bt = TestTensors.uniform(rnd, DType.F64, -9, 9, 3, 4, 7).cast(dtype).slice(2, 0, 7, 3)
                    .transpose(0, 2); // (3, 4, 3)
            NDArray tbt = torch(manager, bt.contiguous());
            assertMatches("concat strided axis 0 " + dtype, NDArrays.concat(new NDList(torch(manager, a).transpose(2, 1,
                    0), tbt), 0), Indexing.concat(List.of(at, bt), 0), 0, 0);
            assertMatches("concat axis -1 " + dtype, NDArrays.concat(new NDList(torch(manager, a), torch(manager, a)),
                    2), Indexing.concat(List.of(a, a), -1), 0, 0);
        }
        Tensor x = Tensor.zeros(Shape.of(2, 3), DType.F32, Device.CPU);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Indexing.concat(List.of(x, Tensor.zeros(Shape.of(3, 3), DType.F32, Device.CPU)), 1));
        assertTrue(e.getMessage().contains("parts[1]") && e.getMessage().contains("(3, 3)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Indexing.concat(List.of(x, Tensor.zeros(Shape.of(2, 3), DType.F64, Device.CPU)), 0));
        assertTrue(e.getMessage().contains("F32") && e.getMessage().contains("F64"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Indexing.concat(List.of(), 0));
        assertTrue(e.getMessage().contains("at least one"), e.getMessage());
    }

    @Test
    void stackMatchesTorch() {
        SplittableRandom rnd = new SplittableRandom(2);
        Tensor a = TestTensors.uniform(rnd, DType.F32, -1, 1, 4, 5);
        Tensor b = TestTensors.uniform(rnd, DType.F32, -1, 1, 5, 4).transpose(0, 1);
        Tensor c = TestTensors.uniform(rnd, DType.F32, -1, 1, 4, 5);
        NDList parts = new NDList(torch(manager, a), torch(manager, b.contiguous()), torch(manager, c));
        for (int axis : new int[] {0, 1, 2, -1, -3}) {
            int theirs = axis < 0 ? axis + 3 : axis;
            assertMatches("stack axis " + axis, NDArrays.stack(parts, theirs), Indexing.stack(List.of(a, b, c), axis),
                    0, 0);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Indexing.stack(List.of(a, Tensor.zeros(Shape.of(4, 6), DType.F32, Device.CPU)), 0));
        assertTrue(e.getMessage().contains("stack") && e.getMessage().contains("(4, 6)"), e.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // gathers

    @Test
    void gatherMatchesTorch() {
        SplittableRandom rnd = new SplittableRandom(3);
        Tensor x = TestTensors.uniform(rnd, DType.F64, -1, 1, 4, 7, 5);
        NDArray tx = torch(manager, x);
        long[][] indexShapes = {{4, 3, 5}, {2, 7, 5}, {4, 7, 1}, {1, 1, 1}};
        for (int axis = 0; axis < 3; axis++) {
            for (long[] shape : indexShapes) {
                long[] s = shape.clone();
                s[axis] = 6; // any count along the gathered axis; the others at most x's sizes
                Tensor index = TestTensors.indices(rnd, x.shape().dim(axis), s);
                assertMatches("gather axis " + axis + " index " + Shape.of(s), tx.gather(torch(manager, index), axis),
                        Indexing.gather(x, axis, index), 0, 0);
                Tensor i32 = index.cast(DType.I32);
                assertMatches("gather axis " + axis + " I32 index", tx.gather(torch(manager, index), axis),
                        Indexing.gather(x, axis - 3, i32), 0, 0);
            }
        }
        // a transposed source and an I64 payload
        Tensor xi = TestTensors.indices(rnd, 1000, 5, 7).transpose(0, 1); // (7, 5)
        Tensor index = TestTensors.indices(rnd, 5, 7, 3);
        assertMatches("gather from a transposed I64 tensor", torch(manager, xi.contiguous()).gather(torch(manager,
                index), 1), Indexing.gather(xi, 1, index), 0, 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Indexing.gather(x, 0, TestTensors.indices(rnd, 2, 4, 8, 5)));
        assertTrue(e.getMessage().contains("gather") && e.getMessage().contains("(4, 8, 5)"), e.getMessage());
    }

    /** out (P, I, Q) = x[p, index[i], q] around the axis: the definition, as a loop. */
    private static double[] indexSelectLoop(double[] x, long p, long n, long q, long[] index) {
        double[] out = new double[(int) (p * index.length * q)];
        for (int a = 0; a < p; a++) {
            for (int i = 0; i < index.length; i++) {
                for (int c = 0; c < q; c++) {
                    out[(int) ((a * index.length + i) * q + c)] = x[(int) ((a * n + index[i]) * q + c)];
                }
            }
        }
        return out;
    }

    @Test
    void indexSelectAndEmbeddingMatchLoops() {
        SplittableRandom rnd = new SplittableRandom(4);
        Tensor x = TestTensors.uniform(rnd, DType.F32, -1, 1, 3, 11, 4);
        double[] xv = x.toDoubleArray();
        long[] idx = {10, 0, 3, 3, 7, 10, 1};
        Tensor index = Tensor.of(idx, 7);
        Tensor got = Indexing.indexSelect(x, 1, index);
        assertArrayEquals(new long[] {3, 7, 4}, got.shape().dims());
        TestTensors.assertClose("indexSelect axis 1", Tensor.of(indexSelectLoop(xv, 3, 11, 4, idx), 3, 7, 4), got, 0,
                0);
        // a multi-dimensional index replaces the axis by its shape; I32 indices; a strided source
        Tensor index2 = Tensor.of(new int[] {2, 0, 1, 2, 2, 1}, 2, 3);
        Tensor xt = x.transpose(0, 2); // (4, 11, 3)
        Tensor got2 = Indexing.indexSelect(xt, -1, index2);
        assertArrayEquals(new long[] {4, 11, 2, 3}, got2.shape().dims());
        double[] xtv = xt.contiguous().toDoubleArray();
        TestTensors.assertClose("indexSelect last axis of a transposed tensor",
                Tensor.of(indexSelectLoop(xtv, 44, 3, 1, new long[] {2, 0, 1, 2, 2, 1}), 4, 11, 2, 3), got2, 0, 0);
        // embedding: weight (V, C) at indices (B, T) gives (B, T, C)
        Tensor weight = TestTensors.uniform(rnd, DType.F64, -1, 1, 50, 113);
        Tensor tokens = TestTensors.indices(rnd, 50, 2, 9);
        Tensor emb = Indexing.embeddingForward(weight, tokens);
        assertArrayEquals(new long[] {2, 9, 113}, emb.shape().dims());
        TestTensors.assertClose("embedding", Tensor.of(indexSelectLoop(weight.toDoubleArray(), 1, 50, 113,
                tokens.toLongArray()), 2, 9, 113), emb, 0, 0);
        assertMatches("embedding vs PyTorch take", torch(manager, weight).get(torch(manager, tokens.reshape(-1)))
                .reshape(2, 9, 113), emb, 0, 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Indexing.embeddingForward(x, tokens));
        assertTrue(e.getMessage().contains("weight") && e.getMessage().contains("rank 2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Indexing.indexSelect(x, 0, Tensor.of(new float[] {1}, 1)));
        assertTrue(e.getMessage().contains("I64") && e.getMessage().contains("F32"), e.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // scatter-adds

    @Test
    void embeddingBackwardAccumulatesRepeatedIndices() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            int vocab = 17;
            int c = 203;
            Tensor tokens = TestTensors.indices(rnd, 5, 4, 13); // only 5 distinct ids: heavy repetition
            Tensor dout = TestTensors.uniform(rnd, DType.F64, -1, 1, 4, 13, c).cast(dtype);
            Tensor dweight = Indexing.embeddingBackward(dout, tokens, Shape.of(vocab, c));
            assertEquals(dtype, dweight.dtype());
            long[] ids = tokens.toLongArray();
            double[] g = dout.toDoubleArray();
            double[] want = new double[vocab * c];
            for (int i = 0; i < ids.length; i++) {
                for (int j = 0; j < c; j++) {
                    want[(int) ids[i] * c + j] += g[i * c + j];
                }
            }
            double tol = dtype == DType.F32 ? 1e-5 : 1e-12;
            TestTensors.assertClose("embedding backward " + dtype, Tensor.of(want, vocab, c), dweight, tol, tol);
        }
    }

    @Test
    void indexAddIntoAccumulatesAlongAnyAxis() {
        SplittableRandom rnd = new SplittableRandom(6);
        Tensor dx = TestTensors.uniform(rnd, DType.F64, -1, 1, 3, 6, 5);
        double[] want = dx.toDoubleArray();
        long[] idx = {5, 1, 5, 5, 0, 1, 2};
        Tensor src = TestTensors.uniform(rnd, DType.F64, -1, 1, 3, 7, 5);
        double[] s = src.toDoubleArray();
        for (int p = 0; p < 3; p++) {
            for (int i = 0; i < idx.length; i++) {
                for (int q = 0; q < 5; q++) {
                    want[(int) ((p * 6 + idx[i]) * 5 + q)] += s[(p * 7 + i) * 5 + q];
                }
            }
        }
        Indexing.indexAddInto(dx, 1, Tensor.of(idx, 7).cast(DType.I32), src.transpose(0, 2).contiguous()
                .transpose(0, 2)); // a strided src with the same values
        TestTensors.assertClose("indexAddInto axis 1", Tensor.of(want, 3, 6, 5), dx, 1e-12, 1e-12);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Indexing.indexAddInto(dx, 1,
                Tensor.of(idx, 7), TestTensors.uniform(rnd, DType.F64, 0, 1, 3, 6, 5)));
        assertTrue(e.getMessage().contains("src") && e.getMessage().contains("7 indices"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Indexing.indexAddInto(dx.transpose(0, 1), 0, Tensor.of(idx, 7), src.transpose(0, 1)));
        assertTrue(e.getMessage().contains("contiguous"), e.getMessage());
    }

    @Test
    void scatterAddIsTheAdjointOfGather() {
        SplittableRandom rnd = new SplittableRandom(7);
        long[] shape = {4, 6, 5};
        for (int axis = 0; axis < 3; axis++) {
            long[] is = {4, 6, 5};
            is[axis] = 9; // more sources than targets: repeats
            Tensor index = TestTensors.indices(rnd, shape[axis], is);
            Tensor src = TestTensors.uniform(rnd, DType.F64, -1, 1, is);
            Tensor got = Indexing.scatterAdd(Shape.of(shape), axis, index, src);
            long[] ids = index.toLongArray();
            double[] s = src.toDoubleArray();
            double[] want = new double[4 * 6 * 5];
            for (int e = 0; e < ids.length; e++) {
                long[] pos = {e / (is[1] * is[2]), e / is[2] % is[1], e % is[2]};
                pos[axis] = ids[e];
                want[(int) ((pos[0] * 6 + pos[1]) * 5 + pos[2])] += s[e];
            }
            TestTensors.assertClose("scatterAdd axis " + axis, Tensor.of(want, shape), got, 1e-12, 1e-12);
            // adjoint identity: <gather(x, index), src> == <x, scatterAdd(src)>
            Tensor x = TestTensors.uniform(rnd, DType.F64, -1, 1, shape);
            double lhs = dot(Indexing.gather(x, axis, index).toDoubleArray(), s);
            double rhs = dot(x.toDoubleArray(), got.toDoubleArray());
            assertEquals(lhs, rhs, 1e-12, "adjoint identity on axis " + axis);
        }
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // bounds

    @Test
    void outOfRangeIndicesNameThePositionAndValue() {
        Tensor x = Tensor.zeros(Shape.of(5, 3), DType.F32, Device.CPU);
        Tensor bad = Tensor.of(new long[] {0, 4, 5, 1}, 4);
        Tensor negative = Tensor.of(new long[] {0, -1}, 2);
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
                () -> Indexing.indexSelect(x, 0, bad));
        assertTrue(e.getMessage().contains("index[2] = 5") && e.getMessage().contains("[0, 5)"), e.getMessage());
        e = assertThrows(IndexOutOfBoundsException.class, () -> Indexing.embeddingForward(x, negative));
        assertTrue(e.getMessage().contains("index[1] = -1"), e.getMessage());
        e = assertThrows(IndexOutOfBoundsException.class,
                () -> Indexing.embeddingBackward(Tensor.zeros(Shape.of(4, 3), DType.F32, Device.CPU), bad,
                        Shape.of(5, 3)));
        assertTrue(e.getMessage().contains("index[2] = 5"), e.getMessage());
        e = assertThrows(IndexOutOfBoundsException.class,
                () -> Indexing.gather(x, 1, Tensor.of(new long[] {0, 1, 3, 2}, 2, 2)));
        assertTrue(e.getMessage().contains("gather") && e.getMessage().contains("index[2] = 3")
                && e.getMessage().contains("[0, 3)"), e.getMessage());
        // scatterAdd must check too: an index past the axis would otherwise land in the next row
        e = assertThrows(IndexOutOfBoundsException.class,
                () -> Indexing.scatterAdd(Shape.of(5, 3), 1, Tensor.of(new long[] {0, 3}, 1, 2),
                        Tensor.of(new double[] {1, 2}, 1, 2)));
        assertTrue(e.getMessage().contains("scatterAdd") && e.getMessage().contains("index[1] = 3"), e.getMessage());
        IllegalArgumentException shapeError = assertThrows(IllegalArgumentException.class,
                () -> Indexing.scatterAdd(Shape.of(5, 3), 0, Tensor.of(new long[] {0, 3}, 1, 2),
                        Tensor.of(new double[] {1, 2, 3}, 1, 3)));
        assertTrue(shapeError.getMessage().contains("scatterAdd") && shapeError.getMessage().contains("(1, 2)")
                && shapeError.getMessage().contains("(1, 3)"), shapeError.getMessage());
        shapeError = assertThrows(IllegalArgumentException.class, () -> Indexing.scatterAdd(Shape.of(5, 3), 0,
                Tensor.of(new long[] {0, 3, 1, 1}, 1, 4), Tensor.of(new double[] {1, 2, 3, 4}, 1, 4)));
        assertTrue(shapeError.getMessage().contains("axis 1") && shapeError.getMessage().contains("(5, 3)"),
                shapeError.getMessage());
    }
}
