package ai.fulgur.ops.optim;

import ai.fulgur.ops.Tensor;

/**
 * One parameter tensor of a multi-tensor Adam step: the weight {@code w}, its gradient {@code g}, its moments
 * {@code m} and {@code v} (all the same number of elements, w, m, v contiguous), and whether the step's weight decay
 * applies to it (GPT-2 and BERT exclude biases and layer norms; {@code decay} false updates it with weight decay 0).
 */
public record AdamGroup(Tensor w, Tensor g, Tensor m, Tensor v, boolean decay) {

    public AdamGroup {
        if (w == null || g == null || m == null || v == null) {
            throw new IllegalArgumentException("an Adam group needs w, g, m and v, got w=" + w + " g=" + g + " m=" + m
                    + " v=" + v);
        }
    }
}
