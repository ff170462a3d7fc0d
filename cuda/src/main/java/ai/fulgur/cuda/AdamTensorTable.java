package ai.fulgur.cuda;

import java.util.Arrays;

/**
 * The host side of a multi-tensor Adam launch (adamw.cu's {@code AdamTensor} array): one row of 8 int64 words per
 * non-empty tensor, {w, g, m, v, n, dtypes, firstChunk, flags}, where firstChunk numbers the tensor's first chunk of
 * {@link CudaOptim#CHUNK} elements across all tensors (the prefix sum of the chunk counts before it). The kernel's
 * blocks grid-stride over chunks 0 .. {@link #totalChunks()} − 1 and find a chunk's tensor by binary search over
 * firstChunk, as {@link #tensorOfChunk} does here. Pure arithmetic, so the layout is tested on the CPU.
 */
final class AdamTensorTable {
    /** int64 words per tensor; sizeof(AdamTensor) / 8 in adamw.cu. */
    static final int WORDS = 8;
    /** flags bit: the tensor takes weight decay (ADAM_DECAY in adamw.cu). */
    static final long DECAY = 1;

    private final long chunk;
    private long[] words;
    private int count;
    private long totalChunks;

    /** An empty table for chunks of {@code chunk} elements, room for {@code capacity} tensors. */
    AdamTensorTable(long chunk, int capacity) {
        if (chunk <= 0) {
            throw new IllegalArgumentException("chunk must be positive, got " + chunk);
        }
        this.chunk = chunk;
        this.words = new long[Math.max(1, capacity) * WORDS];
    }

    /**
     * Appends a tensor of {@code n} elements at device addresses {@code w, g, m, v} with the packed dtype codes
     * {@code types}; a tensor of 0 elements is skipped (it has no chunk). Returns whether it was added.
     */
    boolean add(long w, long g, long m, long v, long n, long types, boolean decay) {
        if (n < 0) {
            throw new IllegalArgumentException("element count must be >= 0, got " + n);
        }
        if (n == 0) {
            return false;
        }
        if ((count + 1) * WORDS > words.length) {
            words = Arrays.copyOf(words, 2 * words.length);
        }
        int at = count * WORDS;
        words[at] = w;
        words[at + 1] = g;
        words[at + 2] = m;
        words[at + 3] = v;
        words[at + 4] = n;
        words[at + 5] = types;
        words[at + 6] = totalChunks;
        words[at + 7] = decay ? DECAY : 0;
        totalChunks += chunksOf(n);
        count++;
        return true;
    }

    /** Chunks of a tensor of {@code n} elements. */
    long chunksOf(long n) {
        return (n + chunk - 1) / chunk;
    }

    /** Tensors in the table (empty ones left out). */
    int count() {
        return count;
    }

    /** Chunks over all tensors: the launch's work items. */
    long totalChunks() {
        return totalChunks;
    }

    /** The table's words, {@link #WORDS} per tensor: what is uploaded (also the cache key). */
    long[] words() {
        return Arrays.copyOf(words, count * WORDS);
    }

    /** The index of the tensor that chunk {@code c} belongs to: the last one whose firstChunk ≤ c (the kernel's search). */
    int tensorOfChunk(long c) {
        if (c < 0 || c >= totalChunks) {
            throw new IllegalArgumentException("chunk " + c + " is outside [0, " + totalChunks + ")");
        }
        int lo = 0;
        int hi = count - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (words[mid * WORDS + 6] <= c) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    /** The first element, within its tensor, of chunk {@code c}. */
    long startOfChunk(long c) {
        return (c - words[tensorOfChunk(c) * WORDS + 6]) * chunk;
    }
}
