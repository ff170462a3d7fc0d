package ai.fulgur.training.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import ai.fulgur.autograd.Variable;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.ops.activation.GeluForm;

/**
 * GELU in a chosen form, on any engine:
 *
 * <pre>
 *   ERF:  x·Φ(x) = 0.5·x·(1 + erf(x / √2))                       BERT, DJL's Activation.gelu
 *   TANH: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))             GPT-2 ("gelu_new")
 * </pre>
 *
 * On Fulgur both forms are one fused autograd function; elsewhere ERF is DJL's {@link Activation#gelu} (which
 * PyTorch computes in the erf form) and TANH is composed from standard ops, so both engines compute one formula.
 */
public final class Gelu {
    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
    private static final double CUBIC = 0.044715;

    private Gelu() {}

    /** GELU of {@code x} in {@code form}; the result has x's shape and type. */
    public static NDArray apply(NDArray x, GeluForm form) {
        if (x instanceof FulgurNDArray) {
            Variable v = FulgurNDArray.variableOf(x, "gelu");
            return FulgurNDArray.wrap(x.getManager(),
                    FulgurNDArray.recorded(() -> ai.fulgur.autograd.functions.Gelu.apply(v, form)));
        }
        return switch (form) {
            case ERF -> Activation.gelu(x);
            case TANH -> {
                NDArray inner = x.add(x.pow(3).mul(CUBIC)).mul(SQRT_2_OVER_PI);
                yield x.mul(inner.tanh().add(1)).mul(0.5);
            }
        };
    }
}
