package ai.fulgur.inference.engine;

import ai.fulgur.training.gpt2.Gpt2Model;
import ai.fulgur.training.nn.TransformerBlock;

/** Test models whose outputs depend on their context. */
final class TestModels {
    private TestModels() {
    }

    /**
     * Scales a freshly initialised GPT-2's layer weights up. With GPT-2's initialisation (std 0.02) attention is
     * almost uniform and the tied head mostly repeats the current token, so greedy decoding gets stuck on one token
     * and a wrong or permuted KV cache would go unnoticed; with sharper queries and keys and layers that dominate the
     * residual stream, the next token depends on which earlier tokens are read.
     */
    static void sharpen(Gpt2Model model) {
        for (TransformerBlock layer : model.getBlock().getLayers()) {
            layer.getAttention().getQkvProjection().getParameters().get("weight").getArray().muli(8);
            layer.getAttention().getOutputProjection().getParameters().get("weight").getArray().muli(20);
            layer.getMlpFc().getParameters().get("weight").getArray().muli(5);
            layer.getMlpProj().getParameters().get("weight").getArray().muli(20);
        }
    }
}
