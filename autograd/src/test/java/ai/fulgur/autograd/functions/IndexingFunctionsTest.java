package ai.fulgur.autograd.functions;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.SparseFormat;
import ai.fulgur.autograd.GradCheck;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.elementwise.UnaryOp;
import ai.fulgur.ops.testing.TorchOracle;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The ops with integer or boolean side inputs: {@link Embedding} (repeated tokens accumulate), {@link IndexSelect},
 * {@link Gather}, {@link Where} (with broadcasting) and {@link Cast} between F64 and F32.
 */
class IndexingFunctionsTest {
    private final SplittableRandom rnd = new SplittableRandom(77);

    @Test
    void embeddingWithRepeatedIndices() {
        Tensor weight = OpCheck.normal(rnd, 7, 5);
        Tensor ids = Tensor.of(new long[] {1, 3, 1, 6, 1, 0}, 2, 3); // 1 three times, 2, 4, 5 never
        OpCheck.both("embedding (2,3) ids", xs -> Embedding.apply(xs.get(0), ids),
                (m, xs) -> xs.get(0).getNDArrayInternal()
                        .embedding(TorchOracle.toTorch(m, ids), xs.get(0), SparseFormat.DENSE).singletonOrThrow(),
                weight);

        // row 1 receives the sum of three output-gradient rows; unused rows get exact zeros
        Variable w = Variable.parameter(weight);
        Embedding.apply(w, ids).sum().backward();
        double[] g = w.grad().toDoubleArray();
        for (int c = 0; c < 5; c++) {
            assertEquals(3, g[5 + c], 0, "row 1 is looked up three times");
            assertEquals(0, g[10 + c], 0, "row 2 is never looked up");
        }
    }

    @Test
    void embeddingWithFlatIndices() {
        Tensor weight = OpCheck.normal(rnd, 4, 3);
        Tensor ids = Tensor.of(new long[] {3, 3, 0, 2, 3}, 5);
        OpCheck.both("embedding (5) ids", xs -> Embedding.apply(xs.get(0), ids),
                (m, xs) -> xs.get(0).getNDArrayInternal()
                        .embedding(TorchOracle.toTorch(m, ids), xs.get(0), SparseFormat.DENSE).singletonOrThrow(),
                weight);
    }

    @Test
    void indexSelect() {
        Tensor x = OpCheck.normal(rnd, 3, 7);
        Tensor index = Tensor.of(new long[] {6, 0, 6, 2}, 4);
        OpCheck.both("indexSelect axis 1", xs -> IndexSelect.apply(xs.get(0), 1, index),
                (m, xs) -> xs.get(0).get(new NDIndex(":, {}", TorchOracle.toTorch(m, index))), x);
        Tensor rows = Tensor.of(new long[] {2, 2, 0, 1}, 2, 2); // a 2-D index: the result is (2, 2, 7)
        OpCheck.both("indexSelect axis 0, 2-D index", xs -> IndexSelect.apply(xs.get(0), 0, rows),
                (m, xs) -> xs.get(0).get(new NDIndex("{}", TorchOracle.toTorch(m, rows))), x);
        Tensor y = OpCheck.normal(rnd, 2, 3, 7);
        Tensor mid = Tensor.of(new long[] {1, 1, 2}, 3);
        OpCheck.both("indexSelect axis -2", xs -> IndexSelect.apply(xs.get(0), -2, mid),
                (m, xs) -> xs.get(0).get(new NDIndex(":, {}", TorchOracle.toTorch(m, mid))), y);
    }

    @Test
    void gather() {
        Tensor x = OpCheck.normal(rnd, 3, 5);
        Tensor index = Tensor.of(new long[] {4, 0, 4, 1, 2, 2, 2, 3, 0, 1, 1, 4}, 3, 4);
        OpCheck.both("gather axis 1", xs -> Gather.apply(xs.get(0), 1, index),
                (m, xs) -> xs.get(0).gather(TorchOracle.toTorch(m, index), 1), x);
        Tensor y = OpCheck.normal(rnd, 2, 3, 7);
        Tensor rows = Tensor.of(new long[] {1, 0, 1, 1, 1, 0}, 1, 3, 2); // smaller than y off the axis, as torch allows
        OpCheck.both("gather axis 0", xs -> Gather.apply(xs.get(0), 0, rows),
                (m, xs) -> xs.get(0).gather(TorchOracle.toTorch(m, rows), 0), y);
        Tensor last = Tensor.of(new long[] {6, 6, 0, 3, 5, 1}, 2, 3, 1);
        OpCheck.both("gather axis -1", xs -> Gather.apply(xs.get(0), -1, last),
                (m, xs) -> xs.get(0).gather(TorchOracle.toTorch(m, last), 2), y);
    }

    @Test
    void where() {
        // DJL's where does not broadcast, so the PyTorch side broadcasts explicitly (also differentiable)
        Tensor cond = Elementwise.unary(UnaryOp.GT_SCALAR, OpCheck.normal(rnd, 3, 5), 0);
        Tensor a = OpCheck.normal(rnd, 3, 5);
        Tensor b = OpCheck.normal(rnd, 1, 5); // broadcast: its gradient sums the rows where cond is false
        OpCheck.both("where (3,5) (1,5)", xs -> Where.apply(cond, xs.get(0), xs.get(1)),
                (m, xs) -> NDArrays.where(TorchOracle.toTorch(m, cond), xs.get(0), xs.get(1).broadcast(3, 5)), a, b);
        Tensor cond3 = Elementwise.unary(UnaryOp.LT_SCALAR, OpCheck.normal(rnd, 2, 3, 7), 0.2);
        Tensor c = OpCheck.normal(rnd, 7);
        Tensor d = OpCheck.normal(rnd, 2, 3, 7);
        OpCheck.both("where (7) (2,3,7)", xs -> Where.apply(cond3, xs.get(0), xs.get(1)),
                (m, xs) -> NDArrays.where(TorchOracle.toTorch(m, cond3), xs.get(0).broadcast(2, 3, 7), xs.get(1)),
                c, d);
        // the condition broadcasts too
        Tensor rowCond = Elementwise.unary(UnaryOp.GT_SCALAR, OpCheck.normal(rnd, 5), 0);
        OpCheck.both("where cond (5), (3,5) (3,1)", xs -> Where.apply(rowCond, xs.get(0), xs.get(1)),
                (m, xs) -> NDArrays.where(TorchOracle.toTorch(m, rowCond).broadcast(3, 5), xs.get(0),
                        xs.get(1).broadcast(3, 5)), a, OpCheck.normal(rnd, 3, 1));
    }

    @Test
    void castBetweenF64AndF32() {
        Tensor x = OpCheck.normal(rnd, 3, 5);
        // Through F32 each perturbed value is rounded by up to ~1e-7 (|x| < 4), which the default eps of 1e-6 would
        // turn into errors of order 0.1. Cast is linear, so a large eps costs no truncation error: with eps 1e-2 the
        // rounding contributes at most ~1e-5 to the quotient, inside atol 1e-4.
        GradCheck.check("cast F64 -> F32 -> F64", xs -> Cast.apply(Cast.apply(xs.get(0), DType.F32), DType.F64),
                List.of(x), 1e-2, 1e-4, 1e-4);
        GradCheck.check("cast F64 -> F32", xs -> Cast.apply(xs.get(0), DType.F32), List.of(x), 1e-2, 1e-4, 1e-4);

        // no PyTorch comparison: DJL's toType returns a tensor detached from PyTorch's graph
        // (a product is linear in each input, so the same eps and tolerances hold)
        GradCheck.check("cast F64 -> F32 -> F64 inside a product", xs -> MatMul.apply(
                Cast.apply(Cast.apply(xs.get(0), DType.F32), DType.F64), xs.get(1)),
                List.of(x, OpCheck.normal(rnd, 5, 4)), 1e-2, 1e-4, 1e-4);

        // the gradient comes back in the input's dtype
        Variable p = Variable.parameter(x.cast(DType.F32));
        Cast.apply(p, DType.F64).sum().backward();
        assertEquals(DType.F32, p.grad().dtype());
        assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, p.grad().toFloatArray());
    }

    @Test
    void castToIntegerOrSameTypeIsNotRecorded() {
        Variable p = Variable.parameter(OpCheck.normal(rnd, 3, 5));
        Variable i = Cast.apply(p, DType.I64);
        assertTrue(i.isLeaf() && !i.requiresGrad(), "a cast to an integer type has no gradient");
        assertSame(p, Cast.apply(p, DType.F64), "a cast to the same dtype returns the variable itself");
    }
}
