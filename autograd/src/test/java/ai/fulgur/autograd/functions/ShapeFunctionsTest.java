package ai.fulgur.autograd.functions;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;

import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The movement ops: {@link Reshape}, {@link Transpose} (two axes and full permutations), {@link StridedView} (slices
 * with steps and negative bounds, select, unsqueeze), {@link Expand}, {@link Concat} and stack, {@link Clone}, alone
 * and chained through non-contiguous views.
 */
class ShapeFunctionsTest {
    private final SplittableRandom rnd = new SplittableRandom(2024);

    @Test
    void reshape() {
        Tensor x = OpCheck.normal(rnd, 2, 3, 7);
        OpCheck.both("reshape (2,3,7) -> (6,7)", xs -> Reshape.apply(xs.get(0), Shape.of(6, 7)),
                (m, xs) -> xs.get(0).reshape(6, 7), x);
        OpCheck.both("reshape (2,3,7) -> (7,-1)", xs -> xs.get(0).reshape(7, -1),
                (m, xs) -> xs.get(0).reshape(7, 6), x);
        OpCheck.both("reshape (2,3,7) -> (42)", xs -> xs.get(0).reshape(42),
                (m, xs) -> xs.get(0).reshape(42), x);
    }

    @Test
    void transposeAndPermute() {
        Tensor x = OpCheck.normal(rnd, 2, 3, 7);
        OpCheck.both("transpose(0, 2)", xs -> Transpose.apply(xs.get(0), 0, 2),
                (m, xs) -> xs.get(0).transpose(2, 1, 0), x);
        OpCheck.both("transpose(-1, -2)", xs -> xs.get(0).transpose(-1, -2),
                (m, xs) -> xs.get(0).transpose(0, 2, 1), x);
        OpCheck.both("permute(2, 0, 1)", xs -> Transpose.permute(xs.get(0), 2, 0, 1),
                (m, xs) -> xs.get(0).transpose(2, 0, 1), x);
        OpCheck.both("permute(1, 2, 0)", xs -> Transpose.permute(xs.get(0), 1, 2, 0),
                (m, xs) -> xs.get(0).transpose(1, 2, 0), x);
    }

    @Test
    void slices() {
        Tensor x = OpCheck.normal(rnd, 3, 7);
        OpCheck.both("slice [:, 1:6:2]", xs -> StridedView.slice(xs.get(0), 1, 1, 6, 2),
                (m, xs) -> xs.get(0).get(new NDIndex(":, 1:6:2")), x);
        OpCheck.both("slice [1:3]", xs -> StridedView.slice(xs.get(0), 0, 1, 3, 1),
                (m, xs) -> xs.get(0).get(new NDIndex("1:3")), x);
        OpCheck.both("slice [:, -4:-1]", xs -> StridedView.slice(xs.get(0), -1, -4, -1, 1),
                (m, xs) -> xs.get(0).get(new NDIndex(":, -4:-1")), x);
        Tensor y = OpCheck.normal(rnd, 2, 3, 7);
        OpCheck.both("slice [:, :, ::3]", xs -> StridedView.slice(xs.get(0), 2, 0, 7, 3),
                (m, xs) -> xs.get(0).get(new NDIndex(":, :, ::3")), y);
    }

    @Test
    void selectAndUnsqueeze() {
        Tensor x = OpCheck.normal(rnd, 2, 3, 7);
        OpCheck.both("select(0, 1)", xs -> StridedView.select(xs.get(0), 0, 1),
                (m, xs) -> xs.get(0).get(new NDIndex("1")), x);
        OpCheck.both("select(1, -1)", xs -> StridedView.select(xs.get(0), 1, -1),
                (m, xs) -> xs.get(0).get(new NDIndex(":, -1")), x);
        OpCheck.both("select(2, 4)", xs -> StridedView.select(xs.get(0), 2, 4),
                (m, xs) -> xs.get(0).get(new NDIndex(":, :, 4")), x);
        OpCheck.both("unsqueeze(1)", xs -> StridedView.apply(xs.get(0), t -> t.unsqueeze(1), "unsqueeze"),
                (m, xs) -> xs.get(0).expandDims(1), x);
    }

    @Test
    void expand() {
        Tensor col = OpCheck.normal(rnd, 3, 1);
        OpCheck.both("expand (3,1) -> (2,3,5)", xs -> Expand.apply(xs.get(0), Shape.of(2, 3, 5)),
                (m, xs) -> xs.get(0).broadcast(2, 3, 5), col);
        Tensor row = OpCheck.normal(rnd, 5);
        OpCheck.both("expand (5) -> (3,5)", xs -> Expand.apply(xs.get(0), Shape.of(3, 5)),
                (m, xs) -> xs.get(0).broadcast(3, 5), row);
        Tensor same = OpCheck.normal(rnd, 3, 5);
        OpCheck.both("expand (3,5) -> (3,5)", xs -> Expand.apply(xs.get(0), Shape.of(3, 5)),
                (m, xs) -> xs.get(0).broadcast(3, 5), same);
    }

    @ParameterizedTest(name = "axis {0}")
    @ValueSource(ints = {0, 1, -1})
    void concat(int axis) {
        // three parts of different sizes along the axis: (2,3,7) with that axis resized to 1, 2, 4
        int a = axis < 0 ? axis + 3 : axis;
        long[] base = {2, 3, 7};
        Tensor[] parts = new Tensor[3];
        long[] sizes = {1, 2, 4};
        for (int i = 0; i < 3; i++) {
            long[] shape = base.clone();
            shape[a] = sizes[i];
            parts[i] = OpCheck.normal(rnd, shape);
        }
        OpCheck.both("concat axis " + axis, xs -> Concat.apply(xs, axis),
                (m, xs) -> NDArrays.concat(new NDList(xs), axis), parts);
    }

    @ParameterizedTest(name = "axis {0}")
    @ValueSource(ints = {0, 1, 2, -1})
    void stack(int axis) {
        Tensor[] parts = {OpCheck.normal(rnd, 3, 5), OpCheck.normal(rnd, 3, 5), OpCheck.normal(rnd, 3, 5)};
        OpCheck.both("stack axis " + axis, xs -> Concat.stack(xs, axis),
                (m, xs) -> NDArrays.stack(new NDList(xs), axis), parts);
    }

    @Test
    void cloneHasItsOwnStorageAndPassesTheGradientOn() {
        Tensor x = OpCheck.normal(rnd, 3, 5);
        // GradCheck only: DJL's duplicate() returns a tensor detached from PyTorch's graph
        OpCheck.gradCheck("clone", xs -> Clone.apply(xs.get(0)), x);
        Variable p = Variable.parameter(x);
        Variable c = Clone.apply(p);
        assertNotSame(p.data().storage(), c.data().storage());
        Tensor seed = OpCheck.normal(rnd, 3, 5);
        c.backward(seed);
        assertArrayEquals(seed.toDoubleArray(), p.grad().toDoubleArray(), 0);
    }

    @Test
    void sameVariableTwiceInConcat() {
        // both slices of the gradient accumulate into the one input
        Tensor x = OpCheck.normal(rnd, 3, 5);
        OpCheck.both("concat [x, x]", xs -> Concat.apply(List.of(xs.get(0), xs.get(0)), 1),
                (m, xs) -> NDArrays.concat(new NDList(xs.get(0), xs.get(0)), 1), x);
    }

    @Test
    void chainThroughNonContiguousViews() {
        // transpose -> reshape (a copy) -> slice -> expand -> matmul: gradients flow back through strided tensors
        Tensor x = OpCheck.normal(rnd, 2, 3, 7);
        Tensor w = OpCheck.normal(rnd, 3, 5);
        OpCheck.both("transpose/reshape/slice chain", xs -> {
            Variable t = Transpose.apply(xs.get(0), 0, 2);                   // (7, 3, 2)
            Variable r = Reshape.apply(t, Shape.of(7, 6));                    // (7, 6)
            Variable s = StridedView.slice(r, 1, 0, 6, 2);                    // (7, 3)
            Variable e = Expand.apply(StridedView.apply(s, v -> v.unsqueeze(0), "unsqueeze"), Shape.of(2, 7, 3));
            return MatMul.apply(e, xs.get(1));                                // (2, 7, 5)
        }, (m, xs) -> {
            var t = xs.get(0).transpose(2, 1, 0).reshape(7, 6).get(new NDIndex(":, 0:6:2"));
            return t.expandDims(0).broadcast(2, 7, 3).matMul(xs.get(1));
        }, x, w);
    }
}
