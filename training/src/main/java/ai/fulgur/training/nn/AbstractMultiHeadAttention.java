package ai.fulgur.training.nn;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import ai.fulgur.autograd.Variable;
import ai.fulgur.autograd.djl.FulgurEngine;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.autograd.functions.BlockSparseAttention;
import ai.fulgur.autograd.functions.FlashAttention;
import ai.fulgur.autograd.functions.PackedFlashAttention;
import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionSpec;
import ai.fulgur.ops.attention.BlockSparseLayout;
import java.io.DataInputStream;
import java.io.IOException;

/**
 * What {@link FlashMultiHeadAttention} and {@link BlockSparseMultiHeadAttention} share: multi-head self-attention with
 * a fused QKV projection, FlashAttention on the Fulgur engine and the same function composed from standard NDArray
 * ops on any other engine ({@link ComposedAttention}), so a model is portable:
 *
 * <pre>
 *   [q | k | v] = x · Wqkvᵀ + bqkv,  split into Hq, Hkv, Hkv heads of size D = C / Hq
 *   o = softmax(q·kᵀ · scale, masked) · v  per head; query head h reads key/value head h / (Hq / Hkv)
 *   y = o · Woᵀ + bo
 * </pre>
 *
 * <p>Shapes, with B the batch, N the sequence length, C the embedding size (the input's last axis):
 * <ul>
 *   <li>input: x (B, N, C), optionally followed by a key mask (B, N) holding 1 for valid keys and 0 for padding,
 *       right padding only (each row a run of ones, then zeros);</li>
 *   <li>child {@code qkv} (a {@link Linear}): weight ((Hq + 2·Hkv)·D, C), bias ((Hq + 2·Hkv)·D);</li>
 *   <li>child {@code out} (a {@link Linear}): weight (C, Hq·D = C), bias (C);</li>
 *   <li>output: y (B, N, C).</li>
 * </ul>
 * The projection output is viewed as (B, N, Hq + 2·Hkv, D): heads [0, Hq) are q, [Hq, Hq + Hkv) k, the rest v. DJL
 * prefixes child names with their position, so the parameters are {@code 01qkv_weight}, {@code 01qkv_bias},
 * {@code 02out_weight} and {@code 02out_bias}. The key mask is read on the host (the kernels take per-sequence key
 * lengths).
 *
 * <p>Options (see {@link AttentionSpec} for the masks): causal (bottom-right aligned), a sliding window (left, right),
 * grouped-query or multi-query attention (fewer key/value heads), attention dropout (training only; on Fulgur from
 * the engine's Philox stream and regenerated in the backward pass), the softmax scale (default 1/√D). A query that
 * sees no key (a sequence of key length 0) outputs zeros before the output projection.
 *
 * <p>On Fulgur the attention core is one autograd function ({@link FlashAttention}) over views of the projection: it
 * saves q, k, v, the output and the row logsumexp, never the N × N probabilities, and records on the tape only inside
 * a gradient collector. Subclasses say whether it is dense or block-sparse through {@link #layout(long, long)}.
 */
public abstract class AbstractMultiHeadAttention extends AbstractBlock {
    /** Set by {@code -Dfulgur.attention=composed}: see {@link #usesFlashKernels}. */
    private static final boolean FORCE_COMPOSED = "composed".equals(System.getProperty("fulgur.attention"));

    /**
     * {@code -Dfulgur.attention.packed=false} gives the FlashAttention kernels q, k, v as three slice views of the
     * QKV projection (the path before {@link PackedFlashAttention}), for before/after measurements; default true.
     */
    private static final boolean PACKED = !"false".equals(System.getProperty("fulgur.attention.packed"));

    private static final byte VERSION = 1;

    private final int numHeads;
    private final int numKvHeads;
    private final boolean causal;
    private final float attentionDropout;
    private final int windowLeft;
    private final int windowRight;
    private final boolean bias;
    private final double softmaxScale; // NaN: 1/√D

    private long embeddingSize = -1; // C, known once an input shape is
    private Linear qkv;
    private Linear out;

    /** Builds the block from a builder, validating it; children are created once the embedding size is known. */
    protected AbstractMultiHeadAttention(BaseBuilder<?> builder) {
        super(VERSION);
        builder.validate();
        this.numHeads = builder.numHeads;
        this.numKvHeads = builder.numKvHeads > 0 ? builder.numKvHeads : builder.numHeads;
        this.causal = builder.causal;
        this.attentionDropout = builder.attentionDropout;
        this.windowLeft = builder.windowLeft;
        this.windowRight = builder.windowRight;
        this.bias = builder.bias;
        this.softmaxScale = builder.softmaxScale;
    }

    // -----------------------------------------------------------------------------------------------------------------
    // the op

    /**
     * Scaled dot-product attention, the op behind this block: the Fulgur FlashAttention kernels when q is a Fulgur
     * array (FLOAT32, FLOAT16 or BFLOAT16), else {@link ComposedAttention}.
     *
     * @param q        queries (B, Nq, Hq, D); views with unit stride on D are taken without a copy
     * @param k        keys (B, Nk, Hkv, D), Hkv dividing Hq
     * @param v        values (B, Nk, Hkv, D)
     * @param keyMask  (B, Nk) 1 for valid keys and 0 for right padding, or null
     * @param spec     scale, causal, window, dropout probability and optional block-sparse layout; its seed, offset,
     *                 keyLengths and packed offsets must be unset (dropout draws from the engine, lengths come from
     *                 {@code keyMask})
     * @param training whether dropout applies
     * @return the attention output (B, Nq, Hq, D)
     */
    public static NDArray attention(NDArray q, NDArray k, NDArray v, NDArray keyMask, AttentionSpec spec,
            boolean training) {
        checkOperands(q, k, v, spec);
        long batch = q.getShape().get(0);
        long nk = k.getShape().get(1);
        long[] keyLengths = keyMask == null ? null : keyLengths(keyMask, batch, nk);
        AttentionSpec s = training && spec.dropoutP() > 0 ? spec : spec.withDropout(0, 0, 0);
        if (usesFlashKernels(q)) {
            return flash(q, k, v, keyLengths, s);
        }
        return ComposedAttention.attention(q, k, v, keyLengths, s);
    }

    /**
     * Whether attention over {@code q} runs Fulgur's FlashAttention kernels: on the Fulgur engine, on the CPU in F32,
     * BF16 or F16, on a GPU in BF16 or F16 with a head dim the CUDA kernels were built for (64 and 128; see
     * {@link ai.fulgur.ops.attention.AttentionKernels#supports}). Elsewhere — other engines, F64, F32 on a GPU, other
     * head dims on a GPU — attention is composed from standard ops, exact in the input's precision but materialising
     * the N × N scores. {@code -Dfulgur.attention=composed} forces the composed path everywhere: a diagnostic switch
     * for comparing memory and speed against the naive attention, not a setting for training.
     */
    public static boolean usesFlashKernels(NDArray q) {
        if (!(q instanceof FulgurNDArray f) || FORCE_COMPOSED) {
            return false;
        }
        DataType t = q.getDataType();
        if (!q.getDevice().isGpu()) {
            return t != DataType.FLOAT64;
        }
        Variable var = FulgurNDArray.variableOf(f, "attention");
        return (t == DataType.BFLOAT16 || t == DataType.FLOAT16) && q.getShape().dimension() == 4
                && Backends.of(var.device()).attention().supports(var.dtype(), (int) q.getShape().get(3),
                        var.device());
    }

    /** The Fulgur path: unwrap, one autograd function, wrap the result in q's manager. */
    private static NDArray flash(NDArray q, NDArray k, NDArray v, long[] keyLengths, AttentionSpec spec) {
        Variable qv = FulgurNDArray.variableOf(q, "flashAttention");
        Variable kv = FulgurNDArray.variableOf(k, "flashAttention");
        Variable vv = FulgurNDArray.variableOf(v, "flashAttention");
        AttentionSpec call = engineSpec(spec, qv.shape().numel() / qv.shape().dim(3), kv.shape().dim(1), keyLengths,
                qv.device());
        Variable o = FulgurNDArray.recorded(() -> call.layout() == null ? FlashAttention.apply(qv, kv, vv, call)
                : BlockSparseAttention.apply(qv, kv, vv, call.layout(), call));
        return FulgurNDArray.wrap(q.getManager(), o);
    }

    /**
     * The Fulgur path over the packed projection (B, N, Hq + 2·Hkv, D): one {@link PackedFlashAttention}, whose
     * backward writes dq, dk and dv into one packed gradient instead of assembling it from three slice gradients.
     * Same options, key lengths and dropout draw as {@link #flash}.
     */
    static NDArray packedFlash(NDArray heads, long queryHeads, long kvHeads, NDArray keyMask, AttentionSpec spec,
            boolean training) {
        Variable packed = FulgurNDArray.variableOf(heads, "packedFlashAttention");
        long batch = heads.getShape().get(0);
        long n = heads.getShape().get(1);
        checkSpecLeftToTheEngine(spec);
        AttentionSpec call = engineSpec(training && spec.dropoutP() > 0 ? spec : spec.withDropout(0, 0, 0),
                batch * n * queryHeads, n, keyMask == null ? null : keyLengths(keyMask, batch, n), packed.device());
        Variable o = FulgurNDArray.recorded(() -> PackedFlashAttention.apply(packed, queryHeads, kvHeads, call));
        return FulgurNDArray.wrap(heads.getManager(), o);
    }

    private static void checkOperands(NDArray q, NDArray k, NDArray v, AttentionSpec spec) {
        Shape qs = q.getShape();
        Shape ks = k.getShape();
        if (qs.dimension() != 4 || ks.dimension() != 4 || !ks.equals(v.getShape())) {
            throw new IllegalArgumentException("attention: q must be (B, Nq, Hq, D) and k, v (B, Nk, Hkv, D), got q "
                    + qs + ", k " + ks + ", v " + v.getShape());
        }
        if (qs.get(0) != ks.get(0) || qs.get(3) != ks.get(3) || ks.get(2) == 0 || qs.get(2) % ks.get(2) != 0) {
            throw new IllegalArgumentException("attention: q " + qs + " and k " + ks + " need the same batch and head "
                    + "dim, and key/value heads dividing query heads");
        }
        checkSpecLeftToTheEngine(spec);
    }

    /** The parts of a block's spec that the engine fills in (see {@link #engineSpec}) must be unset. */
    private static void checkSpecLeftToTheEngine(AttentionSpec spec) {
        if (spec.keyLengths() != null || spec.isPacked() || spec.seed() != 0 || spec.offset() != 0) {
            throw new IllegalArgumentException("attention: pass key padding as keyMask and leave the spec's "
                    + "keyLengths, packed offsets, seed and offset unset (dropout draws from the engine), got " + spec);
        }
    }

    /**
     * {@code spec} for one kernel call: with dropout, the engine's seed and an offset reserving queryRows · keys
     * positions (B·Nq·Hq query rows × Nk keys: one stream of Nq·Nk positions per (sequence, query head)); the key
     * lengths, if any, on {@code device}.
     */
    private static AttentionSpec engineSpec(AttentionSpec spec, long queryRows, long keys, long[] keyLengths,
            ai.fulgur.ops.Device device) {
        AttentionSpec s = spec;
        if (s.dropoutP() > 0) {
            FulgurEngine engine = FulgurEngine.getInstance();
            long positions = Math.multiplyExact(queryRows, keys);
            s = s.withDropout(s.dropoutP(), engine.seed(), engine.nextRandomOffset(positions));
        }
        if (keyLengths != null) {
            s = s.withKeyLengths(Tensor.of(keyLengths, keyLengths.length).to(device));
        }
        return s;
    }

    /**
     * Valid keys per row of a right-padding mask (B, Nk) of zeros and ones.
     *
     * @throws IllegalArgumentException for another shape, a value other than 0 or 1, or a 1 after a 0
     */
    static long[] keyLengths(NDArray mask, long batch, long keys) {
        if (!mask.getShape().equals(new Shape(batch, keys))) {
            throw new IllegalArgumentException("key mask must be (B, Nk) = (" + batch + ", " + keys + "), got "
                    + mask.getShape());
        }
        NDArray f = mask.getDataType() == DataType.FLOAT32 ? mask : mask.toType(DataType.FLOAT32, false);
        float[] m = f.toFloatArray();
        if (f != mask) {
            f.close();
        }
        long[] lengths = new long[Math.toIntExact(batch)];
        for (int b = 0; b < batch; b++) {
            long len = -1;
            for (int j = 0; j < keys; j++) {
                float x = m[(int) (b * keys + j)];
                if (x != 0 && x != 1) {
                    throw new IllegalArgumentException("key mask must hold 0 (padding) or 1 (valid key), got " + x
                            + " at (" + b + ", " + j + ")");
                }
                if (x == 0 && len < 0) {
                    len = j;
                } else if (x == 1 && len >= 0) {
                    throw new IllegalArgumentException("key mask row " + b + " is not right padding: 1 at key " + j
                            + " after a 0 at key " + len + "; attention takes right-padded batches only (ones for "
                            + "the first keyLength keys, zeros after); move the padding to the end of each sequence");
                }
            }
            lengths[b] = len < 0 ? keys : len;
        }
        return lengths;
    }

    // -----------------------------------------------------------------------------------------------------------------
    // the block

    /** The block-sparse layout for {@code queries} × {@code keys} positions, or null for dense attention. */
    protected abstract BlockSparseLayout layout(long queries, long keys);

    /** The options of one call over {@code queries} × {@code keys} positions with head size {@code headDim}. */
    protected AttentionSpec spec(long headDim, long queries, long keys) {
        double scale = Double.isNaN(softmaxScale) ? 1 / Math.sqrt(headDim) : softmaxScale;
        return new AttentionSpec(scale, causal, windowLeft, causal ? 0 : windowRight, attentionDropout, 0, 0, null,
                null, null, layout(queries, keys));
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training,
            PairList<String, Object> params) {
        if (inputs.isEmpty() || inputs.size() > 2) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " takes NDList(x) or NDList(x, keyMask), "
                    + "got " + inputs.size() + " arrays");
        }
        NDArray x = inputs.get(0);
        checkInput(x.getShape());
        long b = x.getShape().get(0);
        long n = x.getShape().get(1);
        long d = embeddingSize / numHeads;
        NDArray fused = qkv.forward(parameterStore, new NDList(x), training, params).head(); // (B, N, (Hq+2Hkv)·D)
        NDArray heads = fused.reshape(b, n, numHeads + 2L * numKvHeads, d);
        NDArray mask = inputs.size() > 1 ? inputs.get(1) : null;
        AttentionSpec spec = spec(d, n, n);
        NDArray o;                                                                            // (B, N, Hq, D)
        if (PACKED && spec.layout() == null && usesFlashKernels(heads)) {
            o = packedFlash(heads, numHeads, numKvHeads, mask, spec, training);
        } else {
            NDArray q = heads.get(new NDIndex(":, :, 0:{}", numHeads));                          // (B, N, Hq, D)
            NDArray k = heads.get(new NDIndex(":, :, {}:{}", numHeads, numHeads + numKvHeads));  // (B, N, Hkv, D)
            NDArray v = heads.get(new NDIndex(":, :, {}:", numHeads + numKvHeads));              // (B, N, Hkv, D)
            o = attention(q, k, v, mask, spec, training);
        }
        return out.forward(parameterStore, new NDList(o.reshape(b, n, embeddingSize)), training, params);
    }

    /**
     * Inference over n new positions with a key/value cache (no dropout, nothing recorded outside a gradient
     * collector): projects x to q, k and v and lets {@code cache} store k, v and attend (see {@link CachedAttention};
     * for the contiguous {@link KvCache} the new positions follow the cached ones and the causal mask is aligned
     * bottom-right). Dense attention only.
     *
     * @param x     the new positions (B, n, C)
     * @param cache where this layer's keys and values go
     * @param layer this layer's index in the cache
     * @return y (B, n, C), in x's manager
     */
    public NDArray forwardCached(ParameterStore parameterStore, NDArray x, CachedAttention cache, int layer) {
        if (qkv == null) {
            throw new IllegalStateException(getClass().getSimpleName() + " is not initialized: its projections are "
                    + "created from the first input shape (initialize the model before decoding)");
        }
        checkInput(x.getShape());
        long b = x.getShape().get(0);
        long n = x.getShape().get(1);
        long d = embeddingSize / numHeads;
        AttentionSpec spec = spec(d, n, n);
        if (spec.layout() != null) {
            throw new UnsupportedOperationException(getClass().getSimpleName() + " has a block-sparse layout; the "
                    + "cached path takes dense attention only");
        }
        NDManager m = x.getManager();
        NDArray fused = qkv.forward(parameterStore, new NDList(x), false, null).head(); // (B, n, (Hq+2Hkv)·D)
        NDArray heads = fused.reshape(b, n, numHeads + 2L * numKvHeads, d);
        NDArray q = heads.get(m, new NDIndex(":, :, 0:{}", numHeads));                      // (B, n, Hq, D)
        NDArray k = heads.get(m, new NDIndex(":, :, {}:{}", numHeads, numHeads + numKvHeads)); // (B, n, Hkv, D)
        NDArray v = heads.get(m, new NDIndex(":, :, {}:", numHeads + numKvHeads));             // (B, n, Hkv, D)
        NDArray o = cache.attend(layer, q, k, v, spec);                                     // (B, n, Hq, D)
        return out.forward(parameterStore, new NDList(o.reshape(b, n, embeddingSize)), false, null).head();
    }

    /** {@inheritDoc} The output has the shape of x: (B, N, C). */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        checkInputShapes(inputShapes);
        return new Shape[] {inputShapes[0]};
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        checkInputShapes(inputShapes);
        Shape x = inputShapes[0];
        createChildren(x.get(2));
        qkv.initialize(manager, dataType, x);
        out.initialize(manager, dataType, x); // the attention output (B, N, Hq·D) has x's shape
    }

    /** {@inheritDoc} Recreates the children from the saved input shape, so their parameters can load. */
    @Override
    protected void loadMetadata(byte loadVersion, DataInputStream is) throws IOException, MalformedModelException {
        if (loadVersion != VERSION) {
            throw new MalformedModelException("cannot load " + getClass().getSimpleName() + " parameters of version "
                    + loadVersion + ", expected " + VERSION);
        }
        readInputShapes(is);
        checkInputShapes(inputShapes);
        createChildren(inputShapes[0].get(2));
    }

    private void createChildren(long c) {
        if (qkv != null) {
            if (c != embeddingSize) {
                throw new IllegalArgumentException(getClass().getSimpleName() + " was built for embedding size "
                        + embeddingSize + ", got input with last axis " + c);
            }
            return;
        }
        embeddingSize = c;
        long d = c / numHeads;
        qkv = addChildBlock("qkv", Linear.builder().setUnits((numHeads + 2L * numKvHeads) * d).optBias(bias)
                .build());
        out = addChildBlock("out", Linear.builder().setUnits(c).optBias(bias).build());
    }

    private void checkInputShapes(Shape[] shapes) {
        if (shapes.length < 1 || shapes.length > 2) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " takes x (B, N, C) and an optional key "
                    + "mask (B, N), got " + shapes.length + " shapes");
        }
        checkInput(shapes[0]);
        if (shapes.length == 2 && !shapes[1].equals(shapes[0].slice(0, 2))) {
            throw new IllegalArgumentException("key mask must be (B, N) = " + shapes[0].slice(0, 2) + " for x "
                    + shapes[0] + ", got " + shapes[1]);
        }
    }

    private void checkInput(Shape x) {
        if (x.dimension() != 3) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " input must be (B, N, C), got " + x);
        }
        long c = x.get(2);
        if (c % numHeads != 0) {
            throw new IllegalArgumentException("embedding size " + c + " (the input's last axis) must be a multiple of "
                    + "numHeads " + numHeads + " (head dim = C / numHeads); change numHeads or the embedding size");
        }
        if (embeddingSize > 0 && c != embeddingSize) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " was initialized for embedding size "
                    + embeddingSize + ", got input " + x);
        }
    }

    /** The fused q/k/v projection (weight ((Hq + 2·Hkv)·D, C)), or null before the block saw an input shape. */
    public Linear getQkvProjection() {
        return qkv;
    }

    /** The output projection (weight (C, C)), or null before the block saw an input shape. */
    public Linear getOutputProjection() {
        return out;
    }

    /** Query heads Hq. */
    public int getNumHeads() {
        return numHeads;
    }

    /** Key/value heads Hkv (Hq unless grouped-query or multi-query). */
    public int getNumKvHeads() {
        return numKvHeads;
    }

    /** Whether the mask is causal. */
    public boolean isCausal() {
        return causal;
    }

    /** Embedding size C, or −1 before the block saw an input shape. */
    public long getEmbeddingSize() {
        return embeddingSize;
    }

    // -----------------------------------------------------------------------------------------------------------------
    // builders

    /**
     * The options shared by the attention blocks' builders.
     *
     * @param <T> the concrete builder, returned by every setter
     */
    public abstract static class BaseBuilder<T extends BaseBuilder<T>> {
        int numHeads;
        int numKvHeads = -1;
        boolean causal;
        float attentionDropout;
        int windowLeft = -1;
        int windowRight = -1;
        boolean bias = true;
        double softmaxScale = Double.NaN;

        /** Sets the number of query heads Hq (required); the embedding size must be a multiple of it. */
        public T setNumHeads(int numHeads) {
            this.numHeads = numHeads;
            return self();
        }

        /** Sets the number of key/value heads Hkv, dividing Hq: Hq (default) is multi-head, 1 multi-query. */
        public T optNumKvHeads(int numKvHeads) {
            this.numKvHeads = numKvHeads;
            return self();
        }

        /** Sets whether query i sees only keys j ≤ i (bottom-right aligned); default false. */
        public T optCausal(boolean causal) {
            this.causal = causal;
            return self();
        }

        /** Sets the dropout probability of the attention weights in training, in [0, 1); default 0. */
        public T optAttentionDropout(float attentionDropout) {
            this.attentionDropout = attentionDropout;
            return self();
        }

        /**
         * Sets a sliding window: query i sees keys i − left ≤ j ≤ i + right; −1 for unbounded (default both). With
         * {@link #optCausal} the right side is 0.
         */
        public T optWindow(int left, int right) {
            this.windowLeft = left;
            this.windowRight = right;
            return self();
        }

        /** Sets whether the projections have biases; default true. */
        public T optBias(boolean bias) {
            this.bias = bias;
            return self();
        }

        /** Sets the factor applied to q·kᵀ before the softmax; default 1/√D. */
        public T optSoftmaxScale(double softmaxScale) {
            this.softmaxScale = softmaxScale;
            return self();
        }

        /** This builder, typed as the concrete one. */
        protected abstract T self();

        /** Fails with the bad value for an invalid option. */
        protected void validate() {
            if (numHeads <= 0) {
                throw new IllegalArgumentException("numHeads must be set to a positive number, got " + numHeads);
            }
            if (numKvHeads != -1 && (numKvHeads <= 0 || numHeads % numKvHeads != 0)) {
                throw new IllegalArgumentException("numKvHeads must divide numHeads " + numHeads + ", got "
                        + numKvHeads);
            }
            if (!(attentionDropout >= 0 && attentionDropout < 1)) {
                throw new IllegalArgumentException("attention dropout must be in [0, 1), got " + attentionDropout);
            }
            if (windowLeft < -1 || windowRight < -1) {
                throw new IllegalArgumentException("window sizes must be >= 0 or -1 (unbounded), got (" + windowLeft
                        + ", " + windowRight + ")");
            }
            if (!Double.isNaN(softmaxScale) && !(softmaxScale > 0 && Double.isFinite(softmaxScale))) {
                throw new IllegalArgumentException("softmaxScale must be positive and finite, got " + softmaxScale);
            }
        }
    }
}
