package ai.fulgur.training.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fulgur.ops.attention.AttentionSpec;

/**
 * The keys and values a causal model has computed so far, so that generation runs each new token through the model
 * once: per layer one contiguous key array and one value array, each (B, capacity, Hkv, D), preallocated and filled
 * from position 0 up to {@link #length()}. All sequences of the batch share that length (prompts of one length, or
 * one sequence per cache).
 *
 * <p>A {@link CausalTransformer#forwardCached cached forward} over n new tokens writes their keys and values at
 * positions [length, length + n) of every layer ({@link #attend}), attends over [0, length + n) and then advances
 * the length by n.
 * {@link #truncate} rolls back (positions beyond the length are ignored, not cleared). This is the plain contiguous
 * cache of the training module; the serving engine's paged cache lives in the inference module.
 *
 * <p>The arrays belong to the manager given to {@link #allocate}; {@link #close()} frees them.
 */
public final class KvCache implements CachedAttention, AutoCloseable {
    private final NDArray[] keys;
    private final NDArray[] values;
    private final int batchSize;
    private final int capacity;
    private int length;

    private KvCache(NDArray[] keys, NDArray[] values, int batchSize, int capacity) {
        this.keys = keys;
        this.values = values;
        this.batchSize = batchSize;
        this.capacity = capacity;
    }

    /**
     * A zero-length cache of zeros.
     *
     * @param manager   owns the arrays (its engine and device are the model's)
     * @param layers    transformer layers L
     * @param batchSize sequences B
     * @param capacity  positions per sequence, usually the model's maximum length
     * @param kvHeads   key/value heads Hkv per layer
     * @param headDim   head size D
     * @param dataType  the model's activation type, usually FLOAT32
     */
    public static KvCache allocate(NDManager manager, int layers, int batchSize, int capacity, int kvHeads,
            int headDim, DataType dataType) {
        if (layers <= 0 || batchSize <= 0 || capacity <= 0 || kvHeads <= 0 || headDim <= 0) {
            throw new IllegalArgumentException("KvCache sizes must be positive, got layers " + layers + ", batchSize "
                    + batchSize + ", capacity " + capacity + ", kvHeads " + kvHeads + ", headDim " + headDim);
        }
        Shape shape = new Shape(batchSize, capacity, kvHeads, headDim);
        NDArray[] k = new NDArray[layers];
        NDArray[] v = new NDArray[layers];
        for (int l = 0; l < layers; l++) {
            k[l] = manager.zeros(shape, dataType);
            v[l] = manager.zeros(shape, dataType);
        }
        return new KvCache(k, v, batchSize, capacity);
    }

    /**
     * {@inheritDoc} The new keys and values go to positions [length, length + n); q attends over [0, length + n),
     * the causal mask aligned bottom-right (new query i sees positions up to length + i). The length advances only
     * when the caller (the model, after its last layer) says so.
     */
    @Override
    public NDArray attend(int layer, NDArray q, NDArray k, NDArray v, AttentionSpec spec) {
        NDArray keyCache = keys(layer);
        NDArray valueCache = values(layer);
        Shape cacheShape = keyCache.getShape();
        Shape kShape = k.getShape();
        if (kShape.dimension() != 4 || kShape.get(0) != batchSize || kShape.get(2) != cacheShape.get(2)
                || kShape.get(3) != cacheShape.get(3) || !kShape.equals(v.getShape())) {
            throw new IllegalArgumentException("new keys and values must be (B, n, Hkv, D) = (" + batchSize + ", n, "
                    + cacheShape.get(2) + ", " + cacheShape.get(3) + ") to fit this KV cache, got k " + kShape
                    + " and v " + v.getShape());
        }
        long end = length + kShape.get(1);
        checkRoom(kShape.get(1));
        NDManager m = q.getManager();
        NDIndex newPositions = new NDIndex(":, {}:{}", length, end);
        keyCache.set(newPositions, k);
        valueCache.set(newPositions, v);
        NDIndex filled = new NDIndex(":, 0:{}", end);
        return AbstractMultiHeadAttention.attention(q, keyCache.get(m, filled), valueCache.get(m, filled), null,
                spec, false);                                                                // (B, n, Hq, D)
    }

    /** Keys of layer {@code layer}, (B, capacity, Hkv, D); positions at or beyond {@link #length()} are stale. */
    public NDArray keys(int layer) {
        return keys[checkLayer(layer)];
    }

    /** Values of layer {@code layer}, (B, capacity, Hkv, D); positions at or beyond {@link #length()} are stale. */
    public NDArray values(int layer) {
        return values[checkLayer(layer)];
    }

    /** Positions filled, the same for every layer and sequence. */
    public int length() {
        return length;
    }

    /** Positions the cache holds per sequence. */
    public int capacity() {
        return capacity;
    }

    /** Free positions: how many more tokens fit. */
    public int remaining() {
        return capacity - length;
    }

    /** Sequences B. */
    public int batchSize() {
        return batchSize;
    }

    /** Transformer layers L. */
    public int layers() {
        return keys.length;
    }

    /** Forgets every position from {@code newLength} on (0 empties the cache for a new prompt). */
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("truncate to " + newLength + " positions: must be in [0, length "
                    + length + "]");
        }
        length = newLength;
    }

    /** Fails unless {@code n} more positions fit. */
    void checkRoom(long n) {
        if (n > remaining()) {
            throw new IllegalArgumentException(n + " new positions do not fit the KV cache: length " + length
                    + " + " + n + " > capacity " + capacity + "; truncate it or allocate a larger one");
        }
    }

    /** Marks {@code n} more positions as filled, after every layer wrote them. */
    void advance(long n) {
        checkRoom(n);
        length += (int) n;
    }

    private int checkLayer(int layer) {
        if (layer < 0 || layer >= keys.length) {
            throw new IndexOutOfBoundsException("layer " + layer + " of a KV cache with " + keys.length + " layers");
        }
        return layer;
    }

    /** Frees the cache arrays. */
    @Override
    public void close() {
        for (int l = 0; l < keys.length; l++) {
            keys[l].close();
            values[l].close();
        }
    }
}
