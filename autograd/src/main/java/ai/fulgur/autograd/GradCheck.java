package ai.fulgur.autograd;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Checks a differentiable function's analytical gradients against float64 central differences, in the manner of
 * {@code torch.autograd.gradcheck}.
 *
 * <p>The output y = f(x₀, x₁, ...) is reduced to the scalar L = Σ y ⊙ R with a fixed random R (seeded, so a failure
 * reproduces), which makes every output element matter. The analytical gradients come from one backward pass seeded
 * with R (the gradient of L); the numerical ones perturb each input element by ±eps and evaluate
 * (L(x + eps) − L(x − eps)) / 2eps with grad mode off. An element passes if
 * |analytic − numeric| ≤ atol + rtol·|numeric|.
 *
 * <p>Arguments that are not differentiated (integer targets, indices, masks, options) are captured by the function:
 * <pre>{@code
 * Tensor targets = Tensor.of(new long[] {2, 0, 4}, 3);
 * GradCheck.check("crossEntropy", xs -> CrossEntropy.apply(xs.get(0), targets, -100, Reduction.MEAN),
 *         List.of(logits));
 * }</pre>
 *
 * <p>Inputs must be F64: in F32 the rounding error of a difference quotient (about 1e-7 / eps) swamps the truncation
 * error. The function may cast internally; a lower-precision output then needs a larger eps and tolerances. Cost: two
 * evaluations of f per input element, so keep the inputs small (tens to a few hundred elements). Random ops must use
 * a fixed seed so that every evaluation sees the same draw. First derivatives only: no double backward.
 */
public final class GradCheck {
    /** Perturbation of each element: small enough for a truncation error of order eps², large enough for rounding. */
    public static final double DEFAULT_EPS = 1e-6;
    /** Absolute tolerance; an F64 difference quotient's rounding error is about 1e-16·|L|/eps ≈ 1e-10·|L|. */
    public static final double DEFAULT_ATOL = 1e-6;
    /** Relative tolerance, against the numerical gradient. */
    public static final double DEFAULT_RTOL = 1e-5;

    private static final long PROJECTION_SEED = 0x5EEDL;

    private GradCheck() {}

    /** {@link #check(String, java.util.function.Function, List, double, double, double)} with the defaults. */
    public static void check(String name, java.util.function.Function<List<Variable>, Variable> f,
            List<Tensor> inputs) {
        check(name, f, inputs, DEFAULT_EPS, DEFAULT_ATOL, DEFAULT_RTOL);
    }

    /**
     * Fails with an {@link AssertionError} naming the function, the input, the element, both gradients and the
     * tolerance unless every input element's analytical gradient matches its central difference.
     *
     * @param name   what is checked, for the failure message
     * @param f      the function; it receives one parameter variable per input, in order, and may capture others
     * @param inputs the point to check at: F64 tensors (not modified)
     * @param eps    the perturbation of each element
     * @param atol   absolute tolerance
     * @param rtol   relative tolerance, times |numeric|
     */
    public static void check(String name, java.util.function.Function<List<Variable>, Variable> f, List<Tensor> inputs,
            double eps, double atol, double rtol) {
        if (inputs.isEmpty()) {
            throw new IllegalArgumentException("gradCheck " + name + ": needs at least one input");
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException("gradCheck " + name + ": eps must be positive, got " + eps);
        }
        for (int i = 0; i < inputs.size(); i++) {
            if (inputs.get(i).dtype() != DType.F64) {
                throw new IllegalArgumentException("gradCheck " + name + ": input " + i + " is "
                        + inputs.get(i).dtype() + " " + inputs.get(i).shape()
                        + ", expected F64 (central differences in lower precision are too noisy); cast it first");
            }
        }

        // analytical: one backward pass from y seeded with R, the gradient of L = Σ y ⊙ R
        List<Variable> params = new ArrayList<>();
        for (Tensor t : inputs) {
            params.add(Variable.parameter(t.copy()));
        }
        Variable y;
        try (var scope = GradMode.set(true)) {
            y = f.apply(params);
        }
        if (!y.dtype().isFloating()) {
            throw new AssertionError("gradCheck " + name + ": the output is " + y.dtype() + ", not floating");
        }
        if (!y.requiresGrad()) {
            throw new AssertionError("gradCheck " + name + ": the output " + y.shape() + " does not require a gradient;"
                    + " the function recorded no graph from its inputs");
        }
        Tensor r = projection(y);
        double[] rValues = r.toDoubleArray(); // R as the output dtype holds it, so both sides use the same numbers
        y.backward(r);

        // numerical: central differences of L, input by input, element by element
        double[][] values = new double[inputs.size()][];
        for (int i = 0; i < inputs.size(); i++) {
            values[i] = inputs.get(i).toDoubleArray();
        }
        for (int i = 0; i < inputs.size(); i++) {
            Tensor input = inputs.get(i);
            Tensor grad = params.get(i).grad();
            if (grad != null && !grad.shape().equals(input.shape())) {
                throw new AssertionError("gradCheck " + name + ": the gradient of input " + i + " has shape "
                        + grad.shape() + ", expected " + input.shape());
            }
            double[] analytic = grad == null ? new double[values[i].length] : grad.toDoubleArray(); // null: no path
            int failures = 0;
            String first = null;
            for (int j = 0; j < values[i].length; j++) {
                double original = values[i][j];
                values[i][j] = original + eps;
                double plus = projected(f, inputs, values, rValues);
                values[i][j] = original - eps;
                double minus = projected(f, inputs, values, rValues);
                values[i][j] = original;
                double numeric = (plus - minus) / (2 * eps);
                double tol = atol + rtol * Math.abs(numeric);
                double diff = Math.abs(analytic[j] - numeric);
                if (!(diff <= tol)) { // also catches NaN
                    failures++;
                    if (first == null) {
                        first = "element " + j + " " + Arrays.toString(unravel(j, input.shape().dims()))
                                + ": analytic " + analytic[j] + " vs numeric " + numeric + ", |diff| " + diff
                                + " > atol " + atol + " + rtol " + rtol + "·|numeric| = " + tol;
                    }
                }
            }
            if (failures > 0) {
                throw new AssertionError("gradCheck " + name + ": input " + i + " " + input.shape() + ", " + first
                        + " (" + failures + " of " + values[i].length + " elements differ; eps " + eps + ")");
            }
        }
    }

    /** R: values in [−1, 1) of y's shape and dtype, the same for every check (1 for a scalar output). */
    private static Tensor projection(Variable y) {
        int n = Math.toIntExact(y.data().numel());
        double[] v = new double[n];
        if (n == 1) {
            v[0] = 1;
        } else {
            SplittableRandom rnd = new SplittableRandom(PROJECTION_SEED);
            for (int k = 0; k < n; k++) {
                v[k] = 2 * rnd.nextDouble() - 1;
            }
        }
        return Tensor.of(v, y.shape().dims()).cast(y.dtype()).to(y.device());
    }

    /** L = Σ f(x) ⊙ R at the point {@code values}, in float64, without recording a graph. */
    private static double projected(java.util.function.Function<List<Variable>, Variable> f, List<Tensor> inputs,
            double[][] values, double[] r) {
        List<Variable> xs = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            Device device = inputs.get(i).device();
            xs.add(Variable.constant(Tensor.of(values[i].clone(), inputs.get(i).shape().dims()).to(device)));
        }
        double[] y;
        try (var scope = GradMode.disable()) {
            y = f.apply(xs).data().toDoubleArray();
        }
        double sum = 0;
        for (int k = 0; k < y.length; k++) {
            sum += y[k] * r[k];
        }
        return sum;
    }

    /** The multi-index of flat row-major position {@code flat} in a tensor of shape {@code dims}. */
    private static long[] unravel(long flat, long[] dims) {
        long[] index = new long[dims.length];
        for (int k = dims.length - 1; k >= 0; k--) {
            index[k] = flat % dims[k];
            flat /= dims[k];
        }
        return index;
    }
}
