package ai.fulgur.ops.random;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Checks;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;

/** Seeded random tensors and dropout over the backend's {@link RandomKernels}. */
public final class Rng {
    private Rng() {}

    /** Uniform in [low, high), element i from Philox(seed, offset + i). */
    public static Tensor uniform(Shape shape, DType dtype, Device device, long seed, long offset, double low,
            double high) {
        Tensor out = Tensor.empty(shape, dtype, device);
        Backends.of(device).random().uniform(out, seed, offset, low, high);
        return out;
    }

    /** Normal with the given mean and standard deviation, element i from Philox(seed, offset + i). */
    public static Tensor normal(Shape shape, DType dtype, Device device, long seed, long offset, double mean,
            double std) {
        Tensor out = Tensor.empty(shape, dtype, device);
        Backends.of(device).random().normal(out, seed, offset, mean, std);
        return out;
    }

    /** Inverted dropout: zeroes each element with probability p and scales survivors by 1/(1 − p). */
    public static Tensor dropoutForward(Tensor x, double p, long seed, long offset) {
        checkP(p);
        Checks.floating("dropout", "x", x);
        Tensor y = Tensor.empty(x.shape(), x.dtype(), x.device());
        Backends.of(x).random().dropoutForward(y, x.contiguous(), p, seed, offset);
        return y;
    }

    /** The gradient of {@link #dropoutForward}, regenerating its mask from (seed, offset). */
    public static Tensor dropoutBackward(Tensor dy, double p, long seed, long offset) {
        checkP(p);
        Tensor dx = Tensor.empty(dy.shape(), dy.dtype(), dy.device());
        Backends.of(dy).random().dropoutBackward(dx, dy.contiguous(), p, seed, offset);
        return dx;
    }

    private static void checkP(double p) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        }
    }
}
