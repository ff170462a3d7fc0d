package ai.fulgur.datasets.tokenizer;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * Learns a byte-level BPE vocabulary from a corpus, in GPT-2's format: load the result with
 * {@link Gpt2Tokenizer#Gpt2Tokenizer(BytePairEncoding)}, or {@link BytePairEncoding#save} it and load the directory
 * with {@link Gpt2Tokenizer#load(java.nio.file.Path)}.
 *
 * <p>The corpus is cut into pieces by {@link Gpt2PreTokenizer} (so no token crosses a piece, as in GPT-2), each
 * distinct piece counted once with its frequency. The vocabulary starts with the 256 byte tokens (ids 0..255 in
 * GPT-2's order, so every input stays encodable) and then repeats: count every adjacent token pair inside the pieces
 * (weighted by piece frequency), take the most frequent pair, add the merged token, and merge that pair everywhere
 * (each piece left to right, non-overlapping, as the tokenizer will). Ties go to the pair whose left token id is
 * smaller, then whose right token id is smaller, so training is deterministic. It stops at the requested size or when
 * no pair occurs at least {@code minFrequency} times; {@value Gpt2Tokenizer#END_OF_TEXT} is appended last.
 *
 * <p>Pair counts are kept up to date incrementally: each merge revisits only the pieces that contain the pair (an
 * index from pair to pieces) and a heap of (count, pair) with lazy deletion picks the next pair.
 *
 * <pre>{@code
 * BytePairEncoding bpe = BpeTrainer.builder().setVocabSize(4096).build().train(List.of(text));
 * bpe.save(dir);                                  // encoder.json + vocab.bpe
 * Gpt2Tokenizer tokenizer = Gpt2Tokenizer.load(dir);
 * }</pre>
 */
public final class BpeTrainer {

    private final int vocabSize;
    private final int minFrequency;

    private BpeTrainer(Builder builder) {
        this.vocabSize = builder.vocabSize;
        this.minFrequency = builder.minFrequency;
    }

    /** @return a builder; {@link Builder#setVocabSize} is required */
    public static Builder builder() {
        return new Builder();
    }

    /** Builder for {@link BpeTrainer}. */
    public static final class Builder {
        private int vocabSize = -1;
        private int minFrequency = 2;

        private Builder() {
        }

        /**
         * @param vocabSize total tokens wanted: 256 byte tokens + merges + {@value Gpt2Tokenizer#END_OF_TEXT};
         *     at least 257 (GPT-2 has 50,257)
         */
        public Builder setVocabSize(int vocabSize) {
            this.vocabSize = vocabSize;
            return this;
        }

        /**
         * @param minFrequency a pair is merged only if it occurs at least this often (default 2: a pair seen once
         *     saves nothing)
         */
        public Builder optMinFrequency(int minFrequency) {
            this.minFrequency = minFrequency;
            return this;
        }

        /** @return the trainer */
        public BpeTrainer build() {
            if (vocabSize < 257) {
                throw new IllegalArgumentException("vocabSize must be at least 257 (256 byte tokens + "
                        + Gpt2Tokenizer.END_OF_TEXT + "), got " + vocabSize);
            }
            if (minFrequency < 1) {
                throw new IllegalArgumentException("minFrequency must be at least 1, got " + minFrequency);
            }
            return new BpeTrainer(this);
        }
    }

    /**
     * Learns a vocabulary from documents. Each document is pre-tokenised on its own.
     *
     * @return the vocabulary: at most {@code vocabSize} tokens, fewer if the corpus runs out of pairs occurring
     *     {@code minFrequency} times
     */
    public BytePairEncoding train(Iterable<String> documents) {
        // 1. distinct pieces and their frequencies
        Map<String, long[]> pieceCounts = new HashMap<>();
        for (String document : documents) {
            Gpt2PreTokenizer.forEachPiece(document, 0, document.length(),
                    piece -> pieceCounts.computeIfAbsent(piece, p -> new long[1])[0]++);
        }
        List<String> distinct = new ArrayList<>(pieceCounts.keySet());
        distinct.sort(null); // a fixed order, so the word indices below do not depend on hashing
        int[][] words = new int[distinct.size()][]; // piece -> its current token ids
        long[] freq = new long[distinct.size()];

        // 2. the 256 byte tokens, in GPT-2's order
        List<byte[]> tokenBytes = new ArrayList<>();
        Map<String, Integer> tokenIds = new HashMap<>();
        int[] byteToId = new int[256];
        for (int b : ByteLevel.BYTES_IN_GPT2_ORDER) {
            byteToId[b] = tokenBytes.size();
            tokenIds.put(ByteLevel.toChars(new byte[] {(byte) b}), tokenBytes.size());
            tokenBytes.add(new byte[] {(byte) b});
        }
        for (int w = 0; w < words.length; w++) {
            byte[] bytes = ByteLevel.utf8(distinct.get(w), 0, distinct.get(w).length());
            words[w] = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                words[w][i] = byteToId[bytes[i] & 0xFF];
            }
            freq[w] = pieceCounts.get(distinct.get(w))[0];
        }

        // 3. pair counts, the pair -> pieces index, and the heap
        Map<Long, Long> pairCounts = new HashMap<>();
        Map<Long, IntList> wordsWithPair = new HashMap<>();
        for (int w = 0; w < words.length; w++) {
            int[] word = words[w];
            for (int i = 0; i + 1 < word.length; i++) {
                long pair = pair(word[i], word[i + 1]);
                pairCounts.merge(pair, freq[w], Long::sum);
                wordsWithPair.computeIfAbsent(pair, p -> new IntList()).add(w);
            }
        }
        PriorityQueue<long[]> heap = new PriorityQueue<>(BpeTrainer::compareCandidates);
        pairCounts.forEach((pair, count) -> heap.add(new long[] {count, pair}));

        // 4. merge until the vocabulary is full
        List<BytePairEncoding.Merge> merges = new ArrayList<>();
        Set<Long> recorded = new HashSet<>();
        int visit = 0;
        int[] seen = new int[words.length]; // the visit (merge step) that last saw each word, to skip duplicates
        Arrays.fill(seen, -1);
        while (tokenBytes.size() < vocabSize - 1 && !heap.isEmpty()) {
            long[] top = heap.poll();
            long pair = top[1];
            if (pairCounts.getOrDefault(pair, 0L) != top[0]) {
                continue; // stale heap entry
            }
            if (top[0] < minFrequency) {
                break;
            }
            int left = (int) (pair >>> 32);
            int right = (int) pair;
            byte[] merged = concat(tokenBytes.get(left), tokenBytes.get(right));
            String mergedChars = ByteLevel.toChars(merged);
            Integer existing = tokenIds.get(mergedChars); // two different pairs can spell the same token
            int mergedId = existing != null ? existing : tokenBytes.size();
            if (existing == null) {
                tokenIds.put(mergedChars, mergedId);
                tokenBytes.add(merged);
            }
            // A pair merged before can only come back when a later merge re-created one of its tokens under the
            // same spelling; its merge line exists already, so the words are updated without a second line.
            if (recorded.add(pair)) {
                merges.add(new BytePairEncoding.Merge(ByteLevel.toChars(tokenBytes.get(left)),
                        ByteLevel.toChars(tokenBytes.get(right)), merges.size() + 2)); // line once saved
            }

            visit++;
            Map<Long, Long> delta = new HashMap<>();
            IntList affected = wordsWithPair.remove(pair);
            for (int k = 0; affected != null && k < affected.size; k++) {
                int w = affected.data[k];
                if (seen[w] == visit) {
                    continue;
                }
                seen[w] = visit;
                int[] word = words[w];
                int[] out = new int[word.length];
                int n = 0;
                for (int i = 0; i < word.length; ) {
                    if (i + 1 < word.length && word[i] == left && word[i + 1] == right) {
                        out[n++] = mergedId;
                        i += 2;
                    } else {
                        out[n++] = word[i++];
                    }
                }
                if (n == word.length) {
                    continue; // the index is a superset: this word no longer has the pair
                }
                for (int i = 0; i + 1 < word.length; i++) {
                    delta.merge(pair(word[i], word[i + 1]), -freq[w], Long::sum);
                }
                int[] updated = Arrays.copyOf(out, n);
                for (int i = 0; i + 1 < n; i++) {
                    long p = pair(updated[i], updated[i + 1]);
                    delta.merge(p, freq[w], Long::sum);
                    if (updated[i] == mergedId || updated[i + 1] == mergedId) {
                        wordsWithPair.computeIfAbsent(p, q -> new IntList()).add(w);
                    }
                }
                words[w] = updated;
            }
            for (Map.Entry<Long, Long> change : delta.entrySet()) {
                if (change.getValue() == 0) {
                    continue;
                }
                long count = pairCounts.merge(change.getKey(), change.getValue(), Long::sum);
                if (count > 0) {
                    heap.add(new long[] {count, change.getKey()});
                } else {
                    pairCounts.remove(change.getKey());
                }
            }
            pairCounts.remove(pair);
        }

        List<String> tokens = new ArrayList<>(tokenBytes.size() + 1);
        for (byte[] bytes : tokenBytes) {
            tokens.add(ByteLevel.toChars(bytes));
        }
        tokens.add(Gpt2Tokenizer.END_OF_TEXT);
        try {
            return new BytePairEncoding(tokens, merges, "trained encoder", "trained merges");
        } catch (VocabFileException e) {
            throw new IllegalStateException("BpeTrainer produced an inconsistent vocabulary: " + e.getMessage(), e);
        }
    }

    /** Learns a vocabulary from one document. */
    public BytePairEncoding train(String text) {
        return train(List.of(text));
    }

    /** Higher count first; ties: smaller left id, then smaller right id. Entries are {count, pair}. */
    private static int compareCandidates(long[] a, long[] b) {
        if (a[0] != b[0]) {
            return Long.compare(b[0], a[0]);
        }
        return Long.compare(a[1], b[1]); // pair = left << 32 | right, both non-negative
    }

    private static long pair(int left, int right) {
        return ((long) left << 32) | right;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(a.length + b.length);
        out.writeBytes(a);
        out.writeBytes(b);
        return out.toByteArray();
    }

    /** A growable int list. */
    private static final class IntList {
        int[] data = new int[4];
        int size;

        void add(int value) {
            if (size == data.length) {
                data = Arrays.copyOf(data, size * 2);
            }
            data[size++] = value;
        }
    }
}
