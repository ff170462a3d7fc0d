package ai.fulgur.autograd.djl;

import static ai.fulgur.autograd.djl.DjlTestSupport.assertClose;
import static ai.fulgur.autograd.djl.DjlTestSupport.normal;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The NDArray methods the Fulgur engine implements, each run on the same inputs in the PyTorch engine and compared
 * value by value, with shape and data type. Where DJL's PyTorch engine lacks a form (eye with an offset, a row
 * mask, numpy's dot of matrices), the reference is built from other PyTorch ops and the comment says so.
 */
class NDArrayOpsTest {
    private NDManager fu;
    private NDManager pt;

    @BeforeEach
    void open() {
        fu = DjlTestSupport.fulgurManager();
        pt = DjlTestSupport.torchManager();
    }

    @AfterEach
    void close() {
        fu.close();
        pt.close();
    }

    /** Runs {@code op} on both engines and compares the results. */
    private void same(String name, Function<NDManager, NDArray> op) {
        NDArray expected = op.apply(pt);
        NDArray actual = op.apply(fu);
        assertInstanceOf(FulgurNDArray.class, actual, name + " must stay in the Fulgur engine");
        assertClose(name, expected, actual);
    }

    /** Runs {@code op} on a (2, 3) array and one of {@code secondShape} on both engines. */
    private void sameBinary(String name, long[] secondShape, BiFunction<NDArray, NDArray, NDArray> op) {
        same(name, m -> op.apply(normal(m, 1, 2, 3), normal(m, 2, secondShape)));
    }

    private static NDArray positive(NDManager m, long seed, long... shape) {
        return normal(m, seed, shape).abs().add(0.5f);
    }

    // -----------------------------------------------------------------------------------------------------------------
    // arithmetic

    @Test
    void arithmeticWithArraysBroadcastsLikePyTorch() {
        for (long[] other : new long[][] {{2, 3}, {3}, {2, 1}, {1, 3}, {}}) {
            String s = new Shape(other).toString();
            sameBinary("add " + s, other, NDArray::add);
            sameBinary("sub " + s, other, NDArray::sub);
            sameBinary("mul " + s, other, NDArray::mul);
            sameBinary("maximum " + s, other, NDArray::maximum);
            sameBinary("minimum " + s, other, NDArray::minimum);
            same("div " + s, m -> normal(m, 1, 2, 3).div(positive(m, 2, other)));
            same("pow " + s, m -> positive(m, 1, 2, 3).pow(normal(m, 2, other)));
        }
        same("int64 add", m -> m.create(new long[] {1, -2, 3}).add(m.create(new long[] {10, 20, 30})));
        same("int64 mul", m -> m.create(new long[] {1, -2, 3}).mul(m.create(new long[] {10, 20, 30})));
    }

    @Test
    void arithmeticWithNumbersAndUnaryMathMatchPyTorch() {
        same("add(Number)", m -> normal(m, 3, 2, 3).add(1.5f));
        same("sub(Number)", m -> normal(m, 3, 2, 3).sub(2));
        same("mul(Number)", m -> normal(m, 3, 2, 3).mul(-3));
        same("div(Number)", m -> normal(m, 3, 2, 3).div(4));
        same("pow(Number)", m -> positive(m, 3, 2, 3).pow(2.5f));
        same("maximum(Number)", m -> normal(m, 3, 2, 3).maximum(0.1f));
        same("minimum(Number)", m -> normal(m, 3, 2, 3).minimum(-0.1f));
        same("clip", m -> normal(m, 3, 2, 3).clip(-0.5f, 0.5f));
        same("int64 add(Number)", m -> m.create(new long[] {1, -2, 3}).add(5));
        same("neg", m -> normal(m, 3, 2, 3).neg());
        same("abs", m -> normal(m, 3, 2, 3).abs());
        same("square", m -> normal(m, 3, 2, 3).square());
        same("sqrt", m -> positive(m, 3, 2, 3).sqrt());
        same("exp", m -> normal(m, 3, 2, 3).exp());
        same("log", m -> positive(m, 3, 2, 3).log());
        same("tanh", m -> normal(m, 3, 2, 3).tanh());
        same("sin", m -> normal(m, 3, 2, 3).sin());
        same("cos", m -> normal(m, 3, 2, 3).cos());
        same("erf", m -> normal(m, 3, 2, 3).erf());
        same("sign", m -> normal(m, 3, 2, 3).sign());
        same("floor", m -> normal(m, 3, 2, 3).mul(3).floor());
        same("ceil", m -> normal(m, 3, 2, 3).mul(3).ceil());
    }

    @Test
    void integerArithmeticFollowsPyTorchsTypeRules() {
        same("int64 div(Number)", m -> m.create(new long[] {1, -2, 7}).div(2));
        same("int64 div(int64)", m -> m.create(new long[] {1, -7, 7}).div(m.create(new long[] {2, 2, -2})));
        same("int64 sub(Number)", m -> m.create(new long[] {1, -2, 7}).sub(3));
        same("int64 mul(Number)", m -> m.create(new long[] {1, -2, 7}).mul(3));
        same("mod(Number) with negative values", m -> m.create(new float[] {-7, -1.5f, 0, 2.5f, 7}).mod(3));
        same("mod(NDArray)", m -> m.create(new float[] {-7, 7, 5, -5}).mod(m.create(new float[] {3, -3, 2, 2})));
        same("int64 max(0)", m -> m.create(new long[] {1, 9, 3, -4}, new Shape(2, 2)).max(new int[] {0}));
        same("int64 addi(Number)", m -> m.create(new long[] {1, -2, 7}).addi(5));
    }

    @Test
    void inPlaceOpsChangeTheSameObject() {
        for (String op : new String[] {"addi", "subi", "muli", "divi"}) {
            BiFunction<NDArray, NDArray, NDArray> f = switch (op) {
                case "addi" -> NDArray::addi;
                case "subi" -> NDArray::subi;
                case "muli" -> NDArray::muli;
                default -> NDArray::divi;
            };
            NDArray expected = f.apply(normal(pt, 4, 2, 3), positive(pt, 5, 3));
            NDArray x = normal(fu, 4, 2, 3);
            NDArray alias = x;
            NDArray returned = f.apply(x, positive(fu, 5, 3));
            assertSame(x, returned, op + " must return the array it changed");
            assertClose(op + "(NDArray, broadcast (3))", expected, alias);
        }
        NDArray x = normal(fu, 6, 2, 3);
        NDArray y = normal(pt, 6, 2, 3);
        assertSame(x, x.addi(2).muli(3).subi(1).divi(2));
        assertClose("addi/muli/subi/divi with numbers", y.addi(2).muli(3).subi(1).divi(2), x);
    }

    @Test
    void comparisonsGiveBoolean() {
        for (long[] other : new long[][] {{2, 3}, {3}}) {
            sameBinary("eq", other, (a, b) -> a.gt(0).eq(b.gt(0)));
            sameBinary("neq", other, (a, b) -> a.gt(0).neq(b.gt(0)));
            sameBinary("gt", other, NDArray::gt);
            sameBinary("gte", other, NDArray::gte);
            sameBinary("lt", other, NDArray::lt);
            sameBinary("lte", other, NDArray::lte);
        }
        same("gt(Number)", m -> normal(m, 7, 4, 3).gt(0.2f));
        same("lte(Number)", m -> normal(m, 7, 4, 3).lte(-0.2f));
        same("eq(Number) int64", m -> m.create(new long[] {1, 2, 2, 3}).eq(2));
        same("logicalAnd", m -> normal(m, 7, 4, 3).gt(0).logicalAnd(normal(m, 8, 4, 3).gt(0)));
        same("logicalNot", m -> normal(m, 7, 4, 3).gt(0).logicalNot());
        assertEquals(DataType.BOOLEAN, normal(fu, 7, 3).gt(0).getDataType());
    }

    // -----------------------------------------------------------------------------------------------------------------
    // reductions

    @Test
    void reductionsOverAxesWithKeepDims() {
        same("sum()", m -> normal(m, 9, 2, 3, 4).sum());
        same("sum(1)", m -> normal(m, 9, 2, 3, 4).sum(new int[] {1}));
        same("sum(0, 2) keepDims", m -> normal(m, 9, 2, 3, 4).sum(new int[] {0, 2}, true));
        same("sum(-1)", m -> normal(m, 9, 2, 3, 4).sum(new int[] {-1}));
        same("mean()", m -> normal(m, 9, 2, 3, 4).mean());
        same("mean(2) keepDims", m -> normal(m, 9, 2, 3, 4).mean(new int[] {2}, true));
        // PyTorch's engine averages over one axis at a time
        assertClose("mean(0, 1)", normal(pt, 9, 2, 3, 4).mean(new int[] {0}).mean(new int[] {0}),
                normal(fu, 9, 2, 3, 4).mean(new int[] {0, 1}));
        same("max()", m -> normal(m, 9, 2, 3, 4).max());
        same("max(1) keepDims", m -> normal(m, 9, 2, 3, 4).max(new int[] {1}, true));
        same("min()", m -> normal(m, 9, 2, 3, 4).min());
        same("min(-1)", m -> normal(m, 9, 2, 3, 4).min(new int[] {-1}));
        same("sum() int64", m -> m.create(new long[] {1, 2, 3, 4}, new Shape(2, 2)).sum(new int[] {0}));
        same("sum() int32", m -> m.create(new int[] {1, 2, 3, 4}, new Shape(2, 2)).sum());
        same("argMax()", m -> normal(m, 9, 4, 5).argMax());
        same("argMax(1)", m -> normal(m, 9, 4, 5).argMax(1));
        same("argMax(0)", m -> normal(m, 9, 4, 5).argMax(0));
        same("argMax with ties", m -> m.create(new float[] {1, 3, 3, 0, 5, 5, 5, 2}, new Shape(2, 4)).argMax(1));
        same("argMin(1)", m -> normal(m, 9, 4, 5).argMin(1));
        same("countNonzero()", m -> normal(m, 9, 4, 5).gt(0).countNonzero());
        same("countNonzero(1)", m -> normal(m, 9, 4, 5).gt(0).countNonzero(1));
        same("countNonzero() of floats", m -> normal(m, 9, 4, 5).maximum(0).countNonzero());
        same("sum() of BOOLEAN", m -> normal(m, 9, 4, 5).gt(0).sum());
        same("toType(BOOLEAN).sum()", m -> normal(m, 9, 4, 5).toType(DataType.BOOLEAN, false).sum());
        assertEquals(DataType.INT64, normal(fu, 9, 4, 5).argMax(1).getDataType());
        assertEquals(DataType.INT64, normal(fu, 9, 4, 5).gt(0).countNonzero().getDataType());
    }

    // -----------------------------------------------------------------------------------------------------------------
    // shapes

    @Test
    void shapeOpsMatchPyTorch() {
        same("reshape(-1, 4)", m -> normal(m, 10, 2, 3, 4).reshape(-1, 4));
        same("reshape(3, -1)", m -> normal(m, 10, 2, 3, 4).reshape(new Shape(3, -1)));
        same("transpose()", m -> normal(m, 10, 2, 3, 4).transpose());
        same("transpose(1, 0, 2)", m -> normal(m, 10, 2, 3, 4).transpose(1, 0, 2));
        same("transpose then reshape", m -> normal(m, 10, 2, 3, 4).transpose(2, 0, 1).reshape(4, 6));
        same("expandDims(1)", m -> normal(m, 10, 2, 3).expandDims(1));
        same("expandDims(-1)", m -> normal(m, 10, 2, 3).expandDims(-1));
        same("squeeze()", m -> normal(m, 10, 1, 3, 1, 2).squeeze());
        same("squeeze(2)", m -> normal(m, 10, 1, 3, 1, 2).squeeze(2));
        same("squeeze(0, 2)", m -> normal(m, 10, 1, 3, 1, 2).squeeze(new int[] {0, 2}));
        same("flatten()", m -> normal(m, 10, 2, 3, 4).flatten());
        same("broadcast", m -> normal(m, 10, 3, 1).broadcast(new Shape(2, 3, 4)));
        same("broadcast then add", m -> normal(m, 10, 3, 1).broadcast(new Shape(3, 4)).add(1));
        for (int i = 0; i < 3; i++) {
            int part = i;
            same("split(3, axis 1) part " + i, m -> normal(m, 11, 2, 6).split(3, 1).get(part));
            same("split({1, 4}, axis 1) part " + i, m -> normal(m, 11, 2, 6).split(new long[] {1, 4}, 1).get(part));
        }
        same("concat axis 0", m -> NDArrays.concat(new NDList(normal(m, 12, 2, 3), normal(m, 13, 1, 3)), 0));
        same("concat axis 1", m -> NDArrays.concat(new NDList(normal(m, 12, 2, 3), normal(m, 13, 2, 2),
                normal(m, 14, 2, 1)), 1));
        same("stack axis 0", m -> NDArrays.stack(new NDList(normal(m, 12, 2, 3), normal(m, 13, 2, 3))));
        same("stack axis 2", m -> NDArrays.stack(new NDList(normal(m, 12, 2, 3), normal(m, 13, 2, 3)), 2));
    }

    // -----------------------------------------------------------------------------------------------------------------
    // linear algebra, softmax

    @Test
    void matMulDotAndSoftmaxMatchPyTorch() {
        same("matMul (2,3)·(3,4)", m -> normal(m, 15, 2, 3).matMul(normal(m, 16, 3, 4)));
        same("matMul batched (2,3,4)·(2,4,5)", m -> normal(m, 15, 2, 3, 4).matMul(normal(m, 16, 2, 4, 5)));
        same("matMul broadcast (2,3,4)·(4,5)", m -> normal(m, 15, 2, 3, 4).matMul(normal(m, 16, 4, 5)));
        same("dot vector·vector", m -> normal(m, 15, 5).dot(normal(m, 16, 5)));
        // PyTorch's engine dots vectors only; numpy's dot of matrices is matMul
        assertClose("dot matrix·vector", normal(pt, 15, 3, 5).matMul(normal(pt, 16, 5)),
                normal(fu, 15, 3, 5).dot(normal(fu, 16, 5)));
        assertClose("dot matrix·matrix", normal(pt, 15, 3, 5).matMul(normal(pt, 16, 5, 2)),
                normal(fu, 15, 3, 5).dot(normal(fu, 16, 5, 2)));
        same("softmax(-1)", m -> normal(m, 17, 2, 3, 4).mul(3).softmax(-1));
        same("softmax(1)", m -> normal(m, 17, 2, 3, 4).mul(3).softmax(1));
        same("logSoftmax(-1)", m -> normal(m, 17, 2, 3, 4).mul(3).logSoftmax(-1));
        same("logSoftmax(0)", m -> normal(m, 17, 2, 3, 4).mul(3).logSoftmax(0));
        same("softmax of large values", m -> normal(m, 17, 3, 4).mul(1000).softmax(-1));
    }

    // -----------------------------------------------------------------------------------------------------------------
    // indexing

    @Test
    void getWithSlicesMatchesPyTorch() {
        for (String index : new String[] {"1:3, :, -1", "::2", "0", "-1, 1:", "1:, ::2, 2:4", ":, 1", "..., 0",
            ":-1, 1::2", "-3:-1", "1:100"}) {
            same("get(\"" + index + "\")", m -> normal(m, 18, 4, 3, 5).get(index));
        }
        same("get(long...)", m -> normal(m, 18, 4, 3, 5).get(2, 1));
        same("get of a get", m -> normal(m, 18, 4, 3, 5).get("1:").get(":, 2"));
        same("get(boolean mask)", m -> {
            NDArray x = normal(m, 18, 4, 3);
            return x.get(x.gt(0));
        });
        same("get(INT64 array)", m -> normal(m, 18, 4, 3).get(m.create(new long[] {3, 0, 3})));
        same("get(NDIndex with an INT64 array)", m -> normal(m, 18, 4, 3).get(new NDIndex("{}",
                m.create(new long[] {1, 2}))));
        same("get then add", m -> normal(m, 18, 4, 3, 5).get("::2").add(1));
    }

    @Test
    void pickWithFloatLabelsOfShapeBAndB1() {
        float[] labels = {2, 0, 4, 1};
        same("pick with labels (B)", m -> normal(m, 19, 4, 5).get(
                new NDIndex().addAllDim().addPickDim(m.create(labels))));
        same("pick with labels (B, 1)", m -> normal(m, 19, 4, 5).get(
                new NDIndex().addAllDim().addPickDim(m.create(labels, new Shape(4, 1)))));
        same("pick with INT64 labels", m -> normal(m, 19, 4, 5).get(
                new NDIndex().addAllDim().addPickDim(m.create(new long[] {3, 3, 0, 1}))));
        // rank 3 as SoftmaxCrossEntropyLoss picks (B, T, V) logits with (B, T) labels; DJL's PyTorch engine fails on
        // this shape, so the reference picks from the (B·T, V) reshape
        float[] tokens = {1, 4, 0, 2, 2, 3};
        NDArray expected = normal(pt, 19, 6, 5).get(new NDIndex().addAllDim().addPickDim(pt.create(tokens)))
                .reshape(2, 3, 1);
        assertClose("pick (2, 3, 5) with labels (2, 3)", expected, normal(fu, 19, 2, 3, 5).get(
                new NDIndex().addAllDim(2).addPickDim(fu.create(tokens, new Shape(2, 3)))));
    }

    @Test
    void takeBooleanMaskGatherMatchPyTorch() {
        same("take(manager, index)", m -> normal(m, 20, 3, 4).take(m, m.create(new long[] {0, 11, 5, 5},
                new Shape(2, 2))));
        same("take(index)", m -> normal(m, 20, 3, 4).take(m.create(new long[] {7, 1, 2})));
        same("take with an index (4) on rank 1", m -> normal(m, 20, 6).take(m.create(new long[] {5, 0, 3, 3})));
        // PyTorch's engine wants a mask of the array's shape; rows 0, 2 and 3 by slicing instead
        NDArray rows = normal(pt, 21, 4, 3);
        assertClose("booleanMask rows", NDArrays.concat(new NDList(rows.get("0:1"), rows.get("2:4"))),
                normal(fu, 21, 4, 3).booleanMask(fu.create(new boolean[] {true, false, true, true})));
        same("booleanMask all", m -> normal(m, 21, 4, 3).booleanMask(normal(m, 22, 4, 3).gt(0)));
        assertClose("booleanMask axis 1", normal(pt, 21, 4, 3).get(":, 1:"),
                normal(fu, 21, 4, 3).booleanMask(fu.create(new boolean[] {false, true, true}), 1));
        same("gather axis 1", m -> normal(m, 23, 3, 4).gather(m.create(new long[] {0, 3, 1, 1, 2, 2},
                new Shape(3, 2)), 1));
        same("gather axis 0", m -> normal(m, 23, 3, 4).gather(m.create(new long[] {2, 0, 1, 1}, new Shape(1, 4)), 0));
    }

    @Test
    void typeConversionsDuplicateOneHotNonzeroScalars() {
        float[] v = {-2.7f, -0.5f, 0f, 0.4f, 1.5f, 3.9f};
        for (DataType t : new DataType[] {DataType.FLOAT64, DataType.INT64, DataType.INT32, DataType.BOOLEAN,
            DataType.FLOAT32, DataType.INT8}) {
            same("FLOAT32 toType " + t, m -> m.create(v, new Shape(2, 3)).toType(t, false));
            same("FLOAT32 toType " + t + " and back", m -> m.create(v, new Shape(2, 3)).toType(t, true)
                    .toType(DataType.FLOAT32, false));
        }
        same("INT64 toType FLOAT32", m -> m.create(new long[] {-3, 0, 1L << 40}).toType(DataType.FLOAT32, false));
        same("BOOLEAN toType INT64", m -> m.create(new boolean[] {true, false, true}).toType(DataType.INT64, false));

        NDArray x = fu.create(v);
        NDArray d = x.duplicate();
        assertNotSame(x, d);
        d.addi(1);
        assertClose("duplicate is a copy", pt.create(v), x, 0, 0);
        NDArray same32 = x.toType(DataType.FLOAT32, true);
        same32.muli(0);
        assertClose("toType(same type, copy=true) is a copy", pt.create(v), x, 0, 0);

        same("oneHot(4)", m -> m.create(new long[] {0, 3, 1}).oneHot(4));
        // PyTorch's engine has oneHot(depth) only: on 2, off −1 is 3·oneHot − 1
        assertClose("oneHot(5, 2, -1, INT64)", pt.create(new long[] {4, 0}, new Shape(2, 1)).oneHot(5).mul(3).sub(1)
                .toType(DataType.INT64, false), fu.create(new long[] {4, 0}, new Shape(2, 1)).oneHot(5, 2f, -1f,
                DataType.INT64));
        same("nonzero", m -> m.create(new float[] {0, 1, 0, 2, 3, 0}, new Shape(2, 3)).nonzero());
        same("nonzero of BOOLEAN", m -> normal(m, 24, 3, 4).gt(0).nonzero());

        NDArray pf = normal(pt, 25, 3, 4);
        NDArray ff = normal(fu, 25, 3, 4);
        assertEquals(pf.getFloat(1, 2), ff.getFloat(1, 2));
        assertEquals(pf.get(2, 3).getFloat(), ff.get(2, 3).getFloat());
        assertEquals(pf.sum().getFloat(), ff.sum().getFloat(), 1e-5);
        assertEquals(pt.create(new long[] {5, 6, 7}).getLong(2), fu.create(new long[] {5, 6, 7}).getLong(2));
        assertEquals(pf.argMax().getLong(), ff.argMax().getLong());
        assertEquals(pf.gt(0).countNonzero().getLong(), ff.gt(0).countNonzero().getLong());
    }

    @Test
    void opsOnViewsSeeTheViewedElements() {
        same("transpose then argMax", m -> normal(m, 30, 3, 4).transpose().argMax(1));
        same("transpose then sum(0)", m -> normal(m, 30, 3, 4).transpose().sum(new int[] {0}));
        same("slice then max", m -> normal(m, 30, 4, 5).get("1:3, ::2").max(new int[] {1}));
        same("slice then softmax", m -> normal(m, 30, 4, 5).get(":, 1:").softmax(-1));
        same("transpose then matMul", m -> normal(m, 30, 3, 4).transpose().matMul(normal(m, 31, 3, 2)));
        same("broadcast then sum", m -> normal(m, 30, 1, 4).broadcast(new Shape(3, 4)).sum(new int[] {0}));
        same("slice then nonzero", m -> normal(m, 30, 4, 5).get("1:, 2:").gt(0).nonzero());
        same("transpose then booleanMask", m -> {
            NDArray t = normal(m, 30, 3, 4).transpose();
            return t.booleanMask(t.gt(0));
        });
        same("transpose then duplicate", m -> normal(m, 30, 3, 4).transpose().duplicate());
        same("transpose then concat", m -> NDArrays.concat(new NDList(normal(m, 30, 3, 4).transpose(),
                normal(m, 31, 4, 2)), 1));
        same("slice then toType", m -> normal(m, 30, 4, 5).get("::3, 1:4").mul(3).toType(DataType.INT32, false));
        // values read back through toFloatArray and getFloat
        NDArray pv = normal(pt, 32, 4, 5).transpose().get("1:, ::2");
        NDArray fv = normal(fu, 32, 4, 5).transpose().get("1:, ::2");
        assertArrayEquals(pv.toFloatArray(), fv.toFloatArray(), "toFloatArray of a view");
        assertEquals(pv.getFloat(2, 1), fv.getFloat(2, 1), "getFloat of a view");
        assertArrayEquals(normal(pt, 33, 1, 3).broadcast(new Shape(2, 3)).toFloatArray(),
                normal(fu, 33, 1, 3).broadcast(new Shape(2, 3)).toFloatArray(), "toFloatArray of a broadcast");
    }

    @Test
    void setWithIndicesWritesInPlace() {
        same("set(NDIndex, Number)", m -> {
            NDArray x = normal(m, 26, 4, 3);
            x.set(new NDIndex("1:3, 0"), 5f);
            return x;
        });
        same("set(NDIndex, NDArray)", m -> {
            NDArray x = normal(m, 26, 4, 3);
            x.set(new NDIndex("::2"), normal(m, 27, 2, 3));
            return x;
        });
        same("set(NDIndex, NDArray) with a squeezed row", m -> {
            NDArray x = normal(m, 26, 4, 3);
            x.set(new NDIndex("2"), m.create(new float[] {7, 8, 9}));
            return x;
        });
        same("set(NDIndex, NDArray) broadcasting", m -> {
            NDArray x = normal(m, 26, 4, 3);
            x.set(new NDIndex(":, 1:"), m.create(new float[] {1, 2}));
            return x;
        });
        same("set(NDIndex, Function)", m -> {
            NDArray x = normal(m, 26, 4, 3);
            x.set(new NDIndex("1:, -1"), a -> a.mul(10));
            return x;
        });
        same("set(boolean mask, Number)", m -> {
            NDArray x = normal(m, 26, 4, 3);
            x.set(x.lt(0), 0);
            return x;
        });
        same("setScalar", m -> {
            NDArray x = normal(m, 26, 4, 3);
            x.setScalar(new NDIndex(3, 2), -4f);
            return x;
        });
        NDArray x = normal(fu, 26, 4, 3);
        NDArray alias = x;
        x.set(new NDIndex("0"), 1f);
        assertEquals(1f, alias.getFloat(0, 2), "set writes into the array itself");
    }
}
