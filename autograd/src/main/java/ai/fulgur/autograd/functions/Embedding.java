package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.indexing.Indexing;

/**
 * Row lookup: out (..., C) = weight[indices[...], :] with weight (V, C) and integer indices (...). Backward
 * scatter-adds the output gradient rows into a zero table, so repeated tokens accumulate.
 */
public final class Embedding extends Function {
    private final Tensor indices;

    private Embedding(Tensor indices) {
        this.indices = indices;
    }

    public static Variable apply(Variable weight, Tensor indices) {
        Tensor out = Indexing.embeddingForward(weight.data(), indices);
        return new Embedding(indices).record(out, weight);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        return new Tensor[] {Indexing.embeddingBackward(g, indices, inputShape(0))};
    }
}
