package ai.fulgur.inference.runner;

import ai.fulgur.inference.kvcache.BlockManager;
import ai.fulgur.inference.kvcache.BlockTable;
import ai.fulgur.inference.kvcache.Sequence;
import ai.fulgur.inference.scheduler.ScheduledChunk;
import java.util.List;

/**
 * One step's chunks flattened into one row of T tokens, with everything the paged kernels need, built on the host.
 * Sequence s (the s-th chunk) owns tokens [queryStarts[s], queryStarts[s + 1]); its chunk covers positions
 * [start, start + n) of the sequence, so after this step it has contextLens[s] = start + n tokens cached. A token at
 * position p of a sequence with block table B goes to slot B[p / blockSize] · blockSize + p % blockSize.
 *
 * <pre>
 *   chunks    A: prompt [0, 5)        B: decode [7, 8)     C: prompt chunk [16, 20)
 *   tokens    a0 a1 a2 a3 a4          b7                   c16 c17 c18 c19
 *   positions 0  1  2  3  4           7                    16  17  18  19
 *   queryStarts 0, 5, 6, 10    contextLens 5, 8, 20    outputRows 4, 5 (C's prompt is not finished)
 * </pre>
 *
 * @param tokens       (T) token ids
 * @param positions    (T) each token's position in its sequence
 * @param slotMapping  (T) each token's cache slot
 * @param blockTables  (S × maxBlocks) row-major, each row a block table padded with 0 (never read: past the context)
 * @param maxBlocks    the width of a block-table row
 * @param queryStarts  (S + 1) prefix sums of the chunk lengths
 * @param contextLens  (S) cached tokens per sequence after this step
 * @param outputRows   the token rows whose logits are wanted: the last of each chunk that ends its sequence
 * @param sampled      the sequences of those rows, in the same order
 */
public record PagedBatch(int[] tokens, int[] positions, int[] slotMapping, int[] blockTables, int maxBlocks,
        int[] queryStarts, int[] contextLens, int[] outputRows, List<Sequence> sampled) {

    /** The batch of {@code chunks}, reading each sequence's block table from {@code blocks}. */
    public static PagedBatch of(List<ScheduledChunk> chunks, BlockManager blocks) {
        if (chunks.isEmpty()) {
            throw new IllegalArgumentException("a batch needs at least one chunk, got none");
        }
        int blockSize = blocks.blockSize();
        int seqs = chunks.size();
        int total = chunks.stream().mapToInt(ScheduledChunk::numTokens).sum();
        int[][] tables = new int[seqs][];
        int maxBlocks = 1;
        for (int s = 0; s < seqs; s++) {
            Sequence seq = chunks.get(s).sequence();
            BlockTable table = blocks.table(seq).orElseThrow(() -> new IllegalStateException(seq
                    + " was scheduled but holds no blocks"));
            tables[s] = table.physicalIds();
            maxBlocks = Math.max(maxBlocks, tables[s].length);
        }
        int[] tokens = new int[total];
        int[] positions = new int[total];
        int[] slots = new int[total];
        int[] blockTables = new int[seqs * maxBlocks];
        int[] queryStarts = new int[seqs + 1];
        int[] contextLens = new int[seqs];
        int[] rows = new int[(int) chunks.stream().filter(ScheduledChunk::samples).count()];
        Sequence[] sampled = new Sequence[rows.length];
        int t = 0;
        int r = 0;
        for (int s = 0; s < seqs; s++) {
            ScheduledChunk chunk = chunks.get(s);
            Sequence seq = chunk.sequence();
            int end = chunk.start() + chunk.numTokens();
            if (end > tables[s].length * blockSize) {
                throw new IllegalStateException(seq + " computes up to position " + end + " but its block table "
                        + "covers " + tables[s].length * blockSize + " slots; appendSlots must run first");
            }
            System.arraycopy(tables[s], 0, blockTables, s * maxBlocks, tables[s].length);
            for (int p = chunk.start(); p < end; p++, t++) {
                tokens[t] = seq.token(p);
                positions[t] = p;
                slots[t] = tables[s][p / blockSize] * blockSize + p % blockSize;
            }
            queryStarts[s + 1] = t;
            contextLens[s] = end;
            if (chunk.samples()) {
                rows[r] = t - 1;
                sampled[r++] = seq;
            }
        }
        return new PagedBatch(tokens, positions, slots, blockTables, maxBlocks, queryStarts, contextLens, rows,
                List.of(sampled));
    }

    /** Sequences S. */
    public int numSequences() {
        return contextLens.length;
    }

    /** The longest chunk. */
    public int maxQueryLength() {
        int max = 0;
        for (int s = 0; s < numSequences(); s++) {
            max = Math.max(max, queryStarts[s + 1] - queryStarts[s]);
        }
        return max;
    }

    /** The longest context. */
    public int maxContextLength() {
        int max = 0;
        for (int len : contextLens) {
            max = Math.max(max, len);
        }
        return max;
    }
}
