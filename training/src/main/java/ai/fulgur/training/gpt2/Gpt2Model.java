package ai.fulgur.training.gpt2;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.fulgur.training.nn.CausalTransformer;
import ai.fulgur.training.nn.KvCache;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A GPT-2 language model: a DJL {@link Model} holding the {@link Gpt2#block GPT-2 block}, its {@link Gpt2Config}, and
 * the inference entry points. Train it with DJL's Trainer on {@link #getModel()}; save and load it as a Hugging Face
 * {@code GPT2LMHeadModel} directory ({@link #save}, {@link #load}).
 *
 * <p>Generation with a {@link KvCache} (no gradients, no dropout; call outside a gradient collector):
 *
 * <pre>{@code
 * try (Gpt2Model gpt2 = Gpt2Model.load(dir, Device.cpu(), "Fulgur");
 *         NDManager request = gpt2.getManager().newSubManager();
 *         KvCache cache = gpt2.newCache(request, 1)) {
 *     NDArray logits = gpt2.prefill(request.create(promptIds, new Shape(1, promptIds.length)), cache); // (1, V)
 *     while (cache.remaining() > 0) {
 *         long next = pick(logits);                                      // sampling lives in the inference module
 *         logits.close();
 *         logits = gpt2.decode(request.create(new long[] {next}), cache); // (1, V)
 *     }
 * }
 * }</pre>
 *
 * Each call's intermediate arrays are freed before it returns; the logits belong to the tokens' manager.
 */
public final class Gpt2Model implements AutoCloseable {
    private final Gpt2Config config;
    private final Model model;
    private final CausalTransformer block;

    private Gpt2Model(Gpt2Config config, Model model, CausalTransformer block) {
        this.config = config;
        this.model = model;
        this.block = block;
    }

    /**
     * A new GPT-2 with GPT-2's initialisation ({@link Gpt2#initializeWeights}, from {@code seed}).
     *
     * @param engineName the DJL engine, "Fulgur" (FlashAttention kernels) or another (attention composed from
     *                   standard ops)
     */
    public static Gpt2Model newModel(Gpt2Config config, Device device, String engineName, long seed) {
        return newModel(config, device, engineName, seed, DataType.FLOAT32);
    }

    /**
     * As {@link #newModel(Gpt2Config, Device, String, long)} with parameters (and so activations) of {@code dtype}:
     * FLOAT32 for training (mixed precision keeps F32 masters), BFLOAT16 or FLOAT16 for inference on tensor cores.
     */
    public static Gpt2Model newModel(Gpt2Config config, Device device, String engineName, long seed,
            DataType dtype) {
        Gpt2Model m = allocate(config, device, engineName, dtype);
        Gpt2.initializeWeights(m.block, config, seed);
        return m;
    }

    /** A new GPT-2 on the Fulgur engine and the CPU; see {@link #newModel(Gpt2Config, Device, String, long)}. */
    public static Gpt2Model newModel(Gpt2Config config, long seed) {
        return newModel(config, Device.cpu(), "Fulgur", seed);
    }

    /** Loads a Hugging Face GPT-2 directory (config.json and model.safetensors); see {@link Gpt2Checkpoint#load}. */
    public static Gpt2Model load(Path dir, Device device, String engineName) throws IOException {
        return Gpt2Checkpoint.load(dir, device, engineName);
    }

    /** As {@link #load(Path, Device, String)} with parameters of {@code dtype} (BFLOAT16 or FLOAT16 for serving). */
    public static Gpt2Model load(Path dir, Device device, String engineName, DataType dtype) throws IOException {
        return Gpt2Checkpoint.load(dir, device, engineName, dtype);
    }

    /** A model of {@code config} with zero parameters, about to be overwritten (loading, initialisation). */
    static Gpt2Model allocate(Gpt2Config config, Device device, String engineName) {
        return allocate(config, device, engineName, DataType.FLOAT32);
    }

    static Gpt2Model allocate(Gpt2Config config, Device device, String engineName, DataType dtype) {
        if (!dtype.isFloating()) {
            throw new IllegalArgumentException("GPT-2 parameters must be a floating-point type, got " + dtype);
        }
        CausalTransformer block = Gpt2.block(config);
        Model model = Model.newInstance("gpt2", device, engineName);
        try {
            model.setBlock(block);
            block.setInitializer(Initializer.ZEROS, (Parameter p) -> true); // cheap: every value is set afterwards
            block.initialize(model.getNDManager(), dtype, Gpt2.initShape());
            return new Gpt2Model(config, model, block);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** Saves this model as a Hugging Face GPT-2 directory; see {@link Gpt2Checkpoint#save}. */
    public void save(Path dir) throws IOException {
        Gpt2Checkpoint.save(this, dir);
    }

    // -----------------------------------------------------------------------------------------------------------------
    // inference

    /**
     * Logits of every position, the full forward pass without a cache.
     *
     * @param tokens (B, T) INT32 or INT64 token ids, T ≤ n_positions
     * @return logits (B, T, V), in the tokens' manager
     */
    public NDArray forward(NDArray tokens) {
        return block.forward(parameterStore(), new NDList(tokens), false).head();
    }

    /** An empty cache for {@code batchSize} sequences of up to n_positions tokens, its arrays in {@code manager}. */
    public KvCache newCache(NDManager manager, int batchSize) {
        return block.newCache(manager, batchSize);
    }

    /**
     * Runs a prompt (or the next chunk of one) through the model, filling the cache, and returns the logits of its
     * last position: the distribution of the token that follows.
     *
     * @param tokens (B, n) INT32 or INT64, B the cache's batch size, cache.length() + n ≤ n_positions
     * @return logits (B, V) of the last position, in the tokens' manager
     */
    public NDArray prefill(NDArray tokens, KvCache cache) {
        if (tokens.getShape().dimension() != 2) {
            throw new IllegalArgumentException("prefill takes tokens (B, n), got " + tokens.getShape());
        }
        return cached(tokens, cache);
    }

    /**
     * Feeds one token per sequence, the one sampled from the previous logits, and returns the logits that follow it.
     *
     * @param lastTokens (B) or (B, 1) INT32 or INT64, B the cache's batch size; the cache must have room
     * @return logits (B, V), in the tokens' manager
     */
    public NDArray decode(NDArray lastTokens, KvCache cache) {
        Shape s = lastTokens.getShape();
        boolean column = s.dimension() == 2 && s.get(1) == 1;
        if (s.dimension() != 1 && !column) {
            throw new IllegalArgumentException("decode takes one token per sequence, (B) or (B, 1), got " + s);
        }
        return cached(lastTokens, cache);
    }

    /** One cached forward whose temporaries live in a scope closed on return; only the logits outlive it. */
    private NDArray cached(NDArray tokens, KvCache cache) {
        NDManager caller = tokens.getManager();
        long b = tokens.getShape().get(0);
        long n = tokens.getShape().dimension() == 2 ? tokens.getShape().get(1) : 1;
        try (NDManager scope = caller.newSubManager()) {
            NDArray t = tokens.duplicate(); // ops write their results to the first operand's manager: the scope's
            t.attach(scope);
            NDArray logits = block.forwardCached(parameterStore(), t.reshape(b, n), cache, true); // (B, 1, V)
            NDArray last = logits.reshape(b, config.vocabSize());
            last.attach(caller);
            return last;
        }
    }

    private ParameterStore parameterStore() {
        return new ParameterStore(model.getNDManager(), false);
    }

    // -----------------------------------------------------------------------------------------------------------------
    // accessors

    /** The configuration. */
    public Gpt2Config getConfig() {
        return config;
    }

    /** The DJL model, for training ({@code getModel().newTrainer(...)}). */
    public Model getModel() {
        return model;
    }

    /** The block. */
    public CausalTransformer getBlock() {
        return block;
    }

    /** The model's manager (parameters live there); make per-request sub-managers of it. */
    public NDManager getManager() {
        return model.getNDManager();
    }

    /** Closes the DJL model and its parameters. */
    @Override
    public void close() {
        model.close();
    }
}
