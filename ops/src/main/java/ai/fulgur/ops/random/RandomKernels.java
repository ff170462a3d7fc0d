package ai.fulgur.ops.random;

import ai.fulgur.ops.Tensor;

/**
 * Kernel SPI: random numbers from the counter-based {@link Philox} generator, so that element i of a call keyed by
 * (seed, offset) is the same number on every backend and can be regenerated (dropout's backward) without storing it.
 */
public interface RandomKernels {
    /** Philox stream (third counter word) of uniform draws and dropout masks. */
    int UNIFORM_STREAM = 0;
    /** Philox stream of normal draws, apart from the uniform one so that their offsets never collide. */
    int NORMAL_STREAM = 1;

    /** out[i] = low + (high − low) · u(seed, offset + i), u uniform in [0, 1). */
    void uniform(Tensor out, long seed, long offset, double low, double high);

    /** out[i] = mean + std · z(seed, offset + i), z standard normal (Box–Muller on two Philox lanes of
     * {@link #NORMAL_STREAM}). */
    void normal(Tensor out, long seed, long offset, double mean, double std);

    /**
     * y[i] = keep(i) ? x[i] / (1 − p) : 0 with keep(i) = u(seed, offset + i) ≥ p; x and y contiguous, same shape.
     */
    void dropoutForward(Tensor y, Tensor x, double p, long seed, long offset);

    /** dx[i] = keep(i) ? dy[i] / (1 − p) : 0, regenerating the forward mask from (seed, offset). */
    void dropoutBackward(Tensor dx, Tensor dy, double p, long seed, long offset);
}
