package ai.fulgur.ops.linalg;

/**
 * What {@link LinalgKernels#linear} applies to x·Wᵀ before it is stored, in the accumulation type: the epilogues
 * cuBLASLt fuses into the product, so a bias add or a GELU costs no extra pass over the output.
 */
public enum LinearEpilogue {
    /** y = x·Wᵀ. */
    NONE(false, false),
    /** y = x·Wᵀ + b, b broadcast over the rows: DJL's {@code Linear}, PyTorch's {@code F.linear}. */
    BIAS(true, false),
    /** y = gelu(x·Wᵀ), tanh form ({@link ai.fulgur.ops.activation.GeluForm#TANH}), as cuBLASLt computes it. */
    GELU(false, true),
    /** y = gelu(x·Wᵀ + b), tanh form: a transformer MLP's first projection. */
    GELU_BIAS(true, true);

    private final boolean bias;
    private final boolean gelu;

    LinearEpilogue(boolean bias, boolean gelu) {
        this.bias = bias;
        this.gelu = gelu;
    }

    /** Whether a bias vector is added. */
    public boolean hasBias() {
        return bias;
    }

    /** Whether the tanh GELU is applied last (and a pre-activation output may be asked for). */
    public boolean hasGelu() {
        return gelu;
    }
}
