package ai.fulgur.inference.runner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.inference.kvcache.BlockManager;
import ai.fulgur.inference.kvcache.Sequence;
import ai.fulgur.inference.scheduler.SchedulerOutput;
import ai.fulgur.ops.Tensor;
import ai.fulgur.training.gpt2.Gpt2Model;
import ai.fulgur.training.nn.AbstractMultiHeadAttention;
import ai.fulgur.training.nn.CausalTransformer;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs one scheduled step of a GPT-2 over the paged KV cache, without gradients: the step's swap-out, swap-in and
 * copy-on-write block moves (in that order, as {@link SchedulerOutput} prescribes), then one forward of all its
 * chunks flattened into one row ({@link PagedBatch}); each layer writes its new keys and values into the pool and
 * attends over the block tables ({@link PagedCacheAttention}). Only the last token of each chunk that ends its
 * sequence goes through the LM head: those logits give the next tokens.
 *
 * <p>The pools are created on the model's device in the model's dtype, sized like the block manager's pools. The
 * model must be on the Fulgur engine (the paged kernels take Fulgur tensors).
 */
public final class ModelRunner implements AutoCloseable {

    /** The next-token logits of a sequence whose scheduled tokens are all computed. */
    public record SequenceLogits(Sequence sequence, float[] logits) {
    }

    private final Gpt2Model model;
    private final CausalTransformer transformer;
    private final BlockManager blocks;
    private final PagedKvPools pools;

    /**
     * A runner whose pools mirror {@code blocks}' device and CPU pools.
     *
     * @throws IllegalArgumentException if the model is not on the Fulgur engine
     */
    public ModelRunner(Gpt2Model model, BlockManager blocks) {
        this.model = model;
        this.transformer = model.getBlock();
        this.blocks = blocks;
        NDArray wte = transformer.getTokenEmbedding().getArray();
        if (!(wte instanceof FulgurNDArray fulgur)) {
            throw new IllegalArgumentException("the paged model runner needs a model on the Fulgur engine, got one on "
                    + wte.getManager().getEngine().getEngineName());
        }
        Tensor weights = fulgur.tensor();
        AbstractMultiHeadAttention attention = transformer.getLayers().getFirst().getAttention();
        int heads = attention.getNumHeads();
        this.pools = new PagedKvPools(transformer.getLayers().size(), blocks.devicePool().capacity(),
                blocks.cpuPool().capacity(), blocks.blockSize(), attention.getNumKvHeads(),
                transformer.getEmbeddingSize() / heads, weights.dtype(), weights.device());
    }

    /** The KV pools (for tests and metrics). */
    public PagedKvPools pools() {
        return pools;
    }

    /**
     * Carries out one step: block moves, then the forward of its chunks.
     *
     * @return the next-token logits of each chunk that ends its sequence, in chunk order
     */
    public List<SequenceLogits> execute(SchedulerOutput step) {
        pools.swapOut(step.swapOut());
        pools.swapIn(step.swapIn());
        pools.copy(step.copies());
        if (step.isEmpty()) {
            return List.of();
        }
        PagedBatch batch = PagedBatch.of(step.chunks(), blocks);
        return forward(batch);
    }

    /** The forward of one batch whose slots are writable; logits of its output rows. */
    public List<SequenceLogits> forward(PagedBatch batch) {
        int vocab = transformer.getVocabSize();
        List<SequenceLogits> out = new ArrayList<>();
        try (NDManager scope = model.getManager().newSubManager()) {
            NDArray tokens = scope.create(batch.tokens(), new Shape(1, batch.tokens().length));
            int[] rows = batch.outputRows();
            PagedCacheAttention cache = new PagedCacheAttention(pools, batch);
            ParameterStore ps = new ParameterStore(model.getManager(), false);
            if (rows.length == 0) {
                // a step of unfinished prompt chunks only: the layers fill the cache, no logits are needed
                transformer.forwardCached(ps, tokens, batch.positions(), cache, new int[] {0});
                return out;
            }
            NDArray logits = transformer.forwardCached(ps, tokens, batch.positions(), cache, rows);   // (R, V)
            float[] all = logits.toType(DataType.FLOAT32, false).toFloatArray();
            for (int r = 0; r < rows.length; r++) {
                float[] row = new float[vocab];
                System.arraycopy(all, r * vocab, row, 0, vocab);
                out.add(new SequenceLogits(batch.sampled().get(r), row));
            }
        }
        return out;
    }

    /** Frees the pools. */
    @Override
    public void close() {
        pools.close();
    }
}
