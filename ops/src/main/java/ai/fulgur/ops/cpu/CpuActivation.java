package ai.fulgur.ops.cpu;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.activation.ActivationKernels;
import ai.fulgur.ops.activation.GeluForm;

/** Softmax, log-softmax and GELU on the host; rows in parallel, math in double. */
public final class CpuActivation implements ActivationKernels {
    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
    private static final double INV_SQRT_2 = 1 / Math.sqrt(2);
    private static final double INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
    private static final int GRAIN = 1 << 14;

    // y (R, C), x (R, C)
    @Override
    public void softmaxForward(Tensor y, Tensor x, boolean log) {
        CpuStorage ys = y.cpu();
        CpuStorage xs = x.cpu();
        int c = (int) x.shape().last();
        int xo = (int) x.offset();
        int yo = (int) y.offset();
        CpuParallel.forRange((int) x.shape().rows(), Math.max(1, GRAIN / Math.max(1, c)), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xi = xo + r * c;
                int yi = yo + r * c;
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < c; j++) {
                    max = Math.max(max, xs.get(xi + j));
                }
                if (max == Double.NEGATIVE_INFINITY) {
                    max = 0; // an all -inf row: exp gives 0s, log-softmax gives -inf/NaN as PyTorch
                }
                double sum = 0;
                for (int j = 0; j < c; j++) {
                    sum += Math.exp(xs.get(xi + j) - max);
                }
                if (log) {
                    double logSum = Math.log(sum) + max;
                    for (int j = 0; j < c; j++) {
                        ys.set(yi + j, xs.get(xi + j) - logSum);
                    }
                } else {
                    double inv = 1 / sum;
                    for (int j = 0; j < c; j++) {
                        ys.set(yi + j, Math.exp(xs.get(xi + j) - max) * inv);
                    }
                }
            }
        });
    }

    // dx, y, dy (R, C)
    @Override
    public void softmaxBackward(Tensor dx, Tensor y, Tensor dy, boolean log) {
        CpuStorage dxs = dx.cpu();
        CpuStorage ys = y.cpu();
        CpuStorage dys = dy.cpu();
        int c = (int) y.shape().last();
        int yo = (int) y.offset();
        int dyo = (int) dy.offset();
        int dxo = (int) dx.offset();
        CpuParallel.forRange((int) y.shape().rows(), Math.max(1, GRAIN / Math.max(1, c)), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                double dot = 0;
                for (int j = 0; j < c; j++) {
                    double g = dys.get(dyo + r * c + j);
                    dot += log ? g : g * ys.get(yo + r * c + j);
                }
                for (int j = 0; j < c; j++) {
                    double g = dys.get(dyo + r * c + j);
                    double v = ys.get(yo + r * c + j);
                    dxs.set(dxo + r * c + j, log ? g - Math.exp(v) * dot : v * (g - dot));
                }
            }
        });
    }

    @Override
    public void geluForward(Tensor y, Tensor x, GeluForm form) {
        CpuStorage ys = y.cpu();
        CpuStorage xs = x.cpu();
        int xo = (int) x.offset();
        int yo = (int) y.offset();
        boolean fast = x.dtype() != DType.F64;
        CpuParallel.forRange((int) x.numel(), GRAIN, (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                ys.set(yo + i, gelu(xs.get(xo + i), form, fast));
            }
        });
    }

    @Override
    public void geluBackward(Tensor dx, Tensor x, Tensor dy, GeluForm form) {
        CpuStorage dxs = dx.cpu();
        CpuStorage xs = x.cpu();
        CpuStorage dys = dy.cpu();
        int xo = (int) x.offset();
        int dyo = (int) dy.offset();
        int dxo = (int) dx.offset();
        boolean fast = x.dtype() != DType.F64;
        CpuParallel.forRange((int) x.numel(), GRAIN, (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                dxs.set(dxo + i, dys.get(dyo + i) * geluDerivative(xs.get(xo + i), form, fast));
            }
        });
    }

    /** gelu(x); {@code fast} uses the float erf, accurate to float resolution. */
    static double gelu(double x, GeluForm form, boolean fast) {
        if (form == GeluForm.TANH) {
            double inner = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
            return 0.5 * x * (1 + Math.tanh(inner));
        }
        return 0.5 * x * (1 + erf(x * INV_SQRT_2, fast));
    }

    /** d gelu / dx. */
    static double geluDerivative(double x, GeluForm form, boolean fast) {
        if (form == GeluForm.TANH) {
            double inner = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
            double t = Math.tanh(inner);
            double dInner = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dInner;
        }
        double cdf = 0.5 * (1 + erf(x * INV_SQRT_2, fast));
        double pdf = INV_SQRT_2PI * Math.exp(-0.5 * x * x);
        return cdf + x * pdf;
    }

    private static double erf(double x, boolean fast) {
        return fast ? SpecialFunctions.erfFloat((float) x) : SpecialFunctions.erf(x);
    }
}
