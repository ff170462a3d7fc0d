package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.random.Rng;

/**
 * Inverted dropout keyed by (seed, offset): the mask is never stored; backward regenerates it from the same Philox
 * stream.
 */
public final class Dropout extends Function {
    private final double p;
    private final long seed;
    private final long offset;

    private Dropout(double p, long seed, long offset) {
        this.p = p;
        this.seed = seed;
        this.offset = offset;
    }

    /** Dropout with probability p; p = 0 returns x itself. */
    public static Variable apply(Variable x, double p, long seed, long offset) {
        if (p == 0) {
            return x;
        }
        Tensor y = Rng.dropoutForward(x.data(), p, seed, offset);
        return new Dropout(p, seed, offset).record(y, x);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        return new Tensor[] {Rng.dropoutBackward(g, p, seed, offset)};
    }
}
