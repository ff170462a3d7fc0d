package ai.fulgur.training.gpt2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.fulgur.training.nn.CausalTransformer;
import ai.fulgur.training.nn.TransformerBlock;
import java.util.SplittableRandom;

/**
 * Builds GPT-2 from a {@link Gpt2Config}: a {@link CausalTransformer} with a tied LM head, tanh GELU, the config's
 * layer norm epsilon, MLP size and dropouts, and causal FlashAttention in every layer. {@link Gpt2Model} wraps the
 * block in a DJL model with inference helpers; {@link Gpt2Checkpoint} maps it to Hugging Face's names.
 */
public final class Gpt2 {

    private Gpt2() {}

    /** A {@link CausalTransformer} builder set up from {@code config}, to adjust before {@code build()}. */
    public static CausalTransformer.Builder builder(Gpt2Config config) {
        return CausalTransformer.builder().setVocabSize(config.vocabSize()).setMaxLength(config.nPositions())
                .setEmbeddingSize(config.nEmbd()).setNumLayers(config.nLayer()).setNumHeads(config.nHead())
                .optMlpHiddenSize(config.mlpHiddenSize()).optGeluForm(config.geluForm())
                .optLayerNormEpsilon(config.layerNormEpsilon()).optTiedHead(config.tieWordEmbeddings())
                .optDropout(config.residPdrop()).optEmbeddingDropout(config.embdPdrop())
                .optAttentionDropout(config.attnPdrop());
    }

    /**
     * The GPT-2 block of {@code config}, not yet initialized. Used in a plain DJL model, initialize it (for example
     * with {@code trainer.initialize(new Shape(B, T))}) and then call {@link #initializeWeights} for GPT-2's initial
     * values ({@link Gpt2Model#newModel} does both).
     */
    public static CausalTransformer block(Gpt2Config config) {
        return builder(config).build();
    }

    /**
     * Sets the parameters of an initialized GPT-2 block as GPT-2 initialises them: every weight N(0, σ²) with σ =
     * {@code initializer_range}, the two projections that end a residual branch (attention output, MLP output)
     * N(0, σ²/(2L)) so the residual stream's variance does not grow with depth, biases 0, layer norm scales 1.
     * Values come from a seeded generator on the host, so they are the same on every engine.
     */
    public static void initializeWeights(CausalTransformer block, Gpt2Config config, long seed) {
        SplittableRandom random = new SplittableRandom(seed); // ziggurat Gaussians: fast
        double sigma = config.initializerRange();
        double residualSigma = sigma / Math.sqrt(2.0 * config.nLayer());
        fillNormal(block.getTokenEmbedding(), random, sigma);
        fillNormal(block.getPositionEmbedding(), random, sigma);
        for (TransformerBlock layer : block.getLayers()) {
            fillNormal(layer.getAttention().getQkvProjection().getDirectParameters().get("weight"), random, sigma);
            fillNormal(layer.getAttention().getOutputProjection().getDirectParameters().get("weight"), random,
                    residualSigma);
            fillNormal(layer.getMlpFc().getDirectParameters().get("weight"), random, sigma);
            fillNormal(layer.getMlpProj().getDirectParameters().get("weight"), random, residualSigma);
        }
        if (block.getLmHead() != null) {
            fillNormal(block.getLmHead().getDirectParameters().get("weight"), random, sigma);
        }
        block.getParameters().forEach(p -> {
            String name = p.getKey();
            if (name.endsWith("bias") || name.endsWith("beta")) {
                fill(p.getValue(), 0);
            } else if (name.endsWith("gamma")) {
                fill(p.getValue(), 1);
            }
        });
    }

    private static void fillNormal(Parameter p, SplittableRandom random, double sigma) {
        NDArray a = p.getArray();
        float[] v = new float[Math.toIntExact(a.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (random.nextGaussian() * sigma);
        }
        a.set(v);
    }

    private static void fill(Parameter p, float value) {
        NDArray a = p.getArray();
        float[] v = new float[Math.toIntExact(a.size())];
        java.util.Arrays.fill(v, value);
        a.set(v);
    }

    /** The number of parameters of {@code config}'s model (the tied head counted once). */
    public static long parameterCount(Gpt2Config config) {
        long c = config.nEmbd();
        long f = config.mlpHiddenSize();
        long perLayer = 2 * 2 * c + (c * 3 * c + 3 * c) + (c * c + c) + (c * f + f) + (f * c + c);
        long head = config.tieWordEmbeddings() ? 0 : (long) config.vocabSize() * c;
        return (long) config.vocabSize() * c + (long) config.nPositions() * c + config.nLayer() * perLayer + 2 * c
                + head;
    }

    /** The shape DJL's initialization needs: one sequence of one token (the sizes come from the config). */
    static Shape initShape() {
        return new Shape(1, 1);
    }
}
