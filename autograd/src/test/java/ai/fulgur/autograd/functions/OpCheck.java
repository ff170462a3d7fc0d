package ai.fulgur.autograd.functions;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import ai.fulgur.autograd.GradCheck;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.testing.TestTensors;
import ai.fulgur.ops.testing.TorchOracle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The two gradient checks every Function test runs: {@link GradCheck} (float64 central differences) and PyTorch
 * autograd through DJL (F32, CPU). Both reduce a non-scalar output with a fixed random projection Σ y ⊙ R, so every
 * output element's gradient path is exercised. Non-differentiated arguments (indices, targets, masks) are captured
 * by the lambdas.
 */
final class OpCheck {
    /** F32 against PyTorch: a few ulps of values of order one, after sums over a handful of terms. */
    static final double TORCH_ATOL = 1e-5;
    static final double TORCH_RTOL = 1e-5;

    private static final long PROJECTION_SEED = 0xC0FFEEL;

    private OpCheck() {}

    /** Our op applied to one parameter variable per input. */
    interface Ours extends java.util.function.Function<List<Variable>, Variable> {}

    /** The same op in PyTorch, on NDArrays made from the inputs; captured tensors go through {@code m}. */
    interface Theirs {
        NDArray apply(NDManager m, List<NDArray> xs);
    }

    /** GradCheck with its default eps and tolerances, on F64 inputs. */
    static void gradCheck(String name, Ours f, Tensor... inputs) {
        GradCheck.check(name, f, List.of(inputs));
    }

    /** GradCheck on the F64 inputs, then PyTorch on their F32 casts. */
    static void both(String name, Ours ours, Theirs theirs, Tensor... f64Inputs) {
        gradCheck(name, ours, f64Inputs);
        matchesTorch(name, ours, theirs, TORCH_ATOL, TORCH_RTOL, f64Inputs);
    }

    /**
     * Runs both ops on the inputs cast to F32, back-propagates the same projection R through each, and compares the
     * outputs and every input's gradient with atol + rtol·|torch|.
     */
    static void matchesTorch(String name, Ours ours, Theirs theirs, double atol, double rtol, Tensor... inputs) {
        List<Tensor> xs = Arrays.stream(inputs).map(t -> t.dtype().isFloating() ? t.cast(DType.F32) : t).toList();
        List<Variable> params = new ArrayList<>();
        for (Tensor t : xs) {
            params.add(Variable.parameter(t.copy()));
        }
        Variable y = ours.apply(params);
        Tensor r = projection(y.data());
        y.backward(r);

        try (NDManager m = TorchOracle.manager()) {
            List<NDArray> txs = new ArrayList<>();
            for (Tensor t : xs) {
                NDArray a = TorchOracle.toTorch(m, t);
                a.setRequiresGradient(true);
                txs.add(a);
            }
            try (GradientCollector gc = TorchOracle.engine().newGradientCollector()) {
                NDArray ty = theirs.apply(m, txs);
                TestTensors.assertClose(name + " vs PyTorch: output", TorchOracle.fromTorch(ty), y.data(), atol, rtol);
                gc.backward(ty.mul(TorchOracle.toTorch(m, r)).sum());
                for (int i = 0; i < xs.size(); i++) {
                    Tensor grad = params.get(i).grad();
                    if (grad == null) {
                        throw new AssertionError(name + ": no gradient reached input " + i + " " + xs.get(i).shape());
                    }
                    TestTensors.assertClose(name + " vs PyTorch: gradient of input " + i,
                            TorchOracle.fromTorch(txs.get(i).getGradient()), grad, atol, rtol);
                }
            }
        }
    }

    /** R in [−1, 1) with the output's shape and dtype. */
    static Tensor projection(Tensor y) {
        SplittableRandom rnd = new SplittableRandom(PROJECTION_SEED);
        return TestTensors.uniform(rnd, y.dtype(), -1, 1, y.shape().dims());
    }

    /** Standard normal F64 values. */
    static Tensor normal(SplittableRandom rnd, long... shape) {
        return TestTensors.normal(rnd, DType.F64, shape);
    }

    /** Uniform F64 values in [lo, hi). */
    static Tensor uniform(SplittableRandom rnd, double lo, double hi, long... shape) {
        return TestTensors.uniform(rnd, DType.F64, lo, hi, shape);
    }

    /** F64 values with |x| in [0.5, 2) and random signs: away from the kinks and poles at 0. */
    static Tensor awayFromZero(SplittableRandom rnd, long... shape) {
        double[] v = TestTensors.uniform(rnd, DType.F64, 0.5, 2, shape).toDoubleArray();
        for (int i = 0; i < v.length; i++) {
            v[i] = rnd.nextBoolean() ? v[i] : -v[i];
        }
        return Tensor.of(v, shape);
    }
}
