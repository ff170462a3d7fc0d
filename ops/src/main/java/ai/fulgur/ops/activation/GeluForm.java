package ai.fulgur.ops.activation;

/** The two GELU formulas in use. */
public enum GeluForm {
    /** x·Φ(x) with the exact normal CDF (erf): BERT, DJL's {@code Activation.gelu}, PyTorch's default. */
    ERF,
    /** 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))): GPT-2, PyTorch's {@code approximate="tanh"}. */
    TANH
}
