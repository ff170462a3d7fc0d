package ai.fulgur.ops.loss;

import ai.fulgur.ops.Tensor;

/**
 * Kernel SPI: fused log-softmax + negative log-likelihood (cross-entropy) over class rows. Logits and dlogits (R, V)
 * are stored by rows: unit stride along V and a row stride of at least V each ({@link ai.fulgur.ops.RowPitched}; the
 * elements past V in a row are neither read nor written); the other tensors are contiguous.
 */
public interface LossKernels {

    /**
     * losses (R) = logsumexp(logits[r]) − logits[r, targets[r]] and lse (R) = logsumexp(logits[r]), from logits (R, V)
     * and integer targets (R). A row whose target equals {@code ignoreIndex} gets loss 0. losses and lse are F32 for
     * half logits, else the logits' dtype. Targets are in range (checked by the facade).
     */
    void crossEntropyForward(Tensor losses, Tensor lse, Tensor logits, Tensor targets, long ignoreIndex);

    /**
     * dlogits (R, V) = dlosses[r] · (softmax(logits[r]) − onehot(targets[r])) using the saved lse; ignored rows get 0.
     */
    void crossEntropyBackward(Tensor dlogits, Tensor dlosses, Tensor logits, Tensor lse, Tensor targets,
            long ignoreIndex);
}
