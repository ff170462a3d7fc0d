package ai.fulgur.autograd.functions;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.testing.PitchedTensors;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link Linear}: y = x·Wᵀ + b on rank-1, -2 and -3 inputs, with and without bias, against PyTorch's linear. */
class LinearTest {

    @ParameterizedTest(name = "input rank {0}, with bias")
    @ValueSource(ints = {1, 2, 3})
    void withBias(int rank) {
        SplittableRandom rnd = new SplittableRandom(rank);
        Tensor x = OpCheck.normal(rnd, inputShape(rank));
        Tensor w = OpCheck.normal(rnd, 4, 5);
        Tensor b = OpCheck.normal(rnd, 4);
        OpCheck.both("linear " + x.shape() + " with bias", xs -> Linear.apply(xs.get(0), xs.get(1), xs.get(2)),
                (m, xs) -> xs.get(0).getNDArrayInternal().linear(xs.get(0), xs.get(1), xs.get(2)).singletonOrThrow(),
                x, w, b);
    }

    @ParameterizedTest(name = "input rank {0}, no bias")
    @ValueSource(ints = {1, 2, 3})
    void withoutBias(int rank) {
        SplittableRandom rnd = new SplittableRandom(10 + rank);
        Tensor x = OpCheck.normal(rnd, inputShape(rank));
        Tensor w = OpCheck.normal(rnd, 4, 5);
        OpCheck.both("linear " + x.shape() + " without bias", xs -> Linear.apply(xs.get(0), xs.get(1), null),
                (m, xs) -> xs.get(0).matMul(xs.get(1).transpose()), x, w);
    }

    @Test
    void frozenWeightStillGivesInputGradient() {
        SplittableRandom rnd = new SplittableRandom(3);
        Tensor x = OpCheck.normal(rnd, 2, 3, 5);
        Tensor w = OpCheck.normal(rnd, 4, 5);
        Tensor b = OpCheck.normal(rnd, 4);
        Variable frozen = Variable.constant(w);
        OpCheck.gradCheck("linear (frozen weight)",
                xs -> Linear.apply(xs.get(0), frozen, xs.get(1)), x, b);
        assertTrue(frozen.grad() == null, "a frozen weight must not receive a gradient");
    }

    @Test
    void rowPitchedOutputGradientGivesTheContiguousGradients() {
        // a vocabulary head's logits gradient comes row-pitched from cross-entropy on CUDA: the backward reads its
        // rows in place (pads NaN here, so reading one as data would show) and gives what a contiguous one gives
        SplittableRandom rnd = new SplittableRandom(4);
        Tensor x = OpCheck.normal(rnd, 2, 3, 5);
        Tensor w = OpCheck.normal(rnd, 7, 5);
        Tensor b = OpCheck.normal(rnd, 7);
        Tensor g = OpCheck.normal(rnd, 2, 3, 7);
        Tensor[] contiguous = linearGradients(x, w, b, g);
        Tensor[] pitched = linearGradients(x, w, b, PitchedTensors.pitched(g, 10, Double.NaN));
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(contiguous[i].toDoubleArray(), pitched[i].toDoubleArray(), 0, "gradient " + i);
        }
    }

    /** dx, dW, db of linear(x, W, b) for the output gradient g. */
    private static Tensor[] linearGradients(Tensor x, Tensor w, Tensor b, Tensor g) {
        Variable vx = Variable.parameter(x);
        Variable vw = Variable.parameter(w);
        Variable vb = Variable.parameter(b);
        Linear.apply(vx, vw, vb).backward(g);
        return new Tensor[] {vx.grad(), vw.grad(), vb.grad()};
    }

    @Test
    void mismatchedFeaturesAreRejectedWithShapes() {
        Variable x = Variable.parameter(Tensor.of(new double[6], 2, 3));
        Variable w = Variable.parameter(Tensor.of(new double[20], 4, 5));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Linear.apply(x, w, null));
        assertTrue(e.getMessage().contains(Shape.of(2, 3).toString()), e.getMessage());
    }

    private static long[] inputShape(int rank) {
        return switch (rank) {
            case 1 -> new long[] {5};
            case 2 -> new long[] {3, 5};
            default -> new long[] {2, 3, 5};
        };
    }
}
