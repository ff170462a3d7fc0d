package ai.fulgur.ops.activation;

import ai.fulgur.ops.Tensor;

/** Kernel SPI: softmax family and GELU. Tensors are contiguous; softmax works on rows (the last axis). */
public interface ActivationKernels {

    /** y (R, C) = softmax(x) or, if {@code log}, log_softmax(x), row by row; numerically stable (max subtracted). */
    void softmaxForward(Tensor y, Tensor x, boolean log);

    /**
     * dx (R, C) from the forward output y and the gradient dy: softmax gives dx = y·(dy − Σ dy·y); log-softmax gives
     * dx = dy − exp(y)·Σ dy.
     */
    void softmaxBackward(Tensor dx, Tensor y, Tensor dy, boolean log);

    /** y = gelu(x) in the given form; any shape. */
    void geluForward(Tensor y, Tensor x, GeluForm form);

    /** dx = dy · gelu'(x) in the given form. */
    void geluBackward(Tensor dx, Tensor x, Tensor dy, GeluForm form);
}
