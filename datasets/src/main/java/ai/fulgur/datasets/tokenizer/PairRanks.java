package ai.fulgur.datasets.tokenizer;

import java.util.Arrays;

/**
 * Map from a pair of token ids (left, right) to its BPE merge rank, by open addressing with linear probing over one
 * long[] of packed keys: no boxing on the merge loop's hot path, where every adjacent pair is looked up.
 */
final class PairRanks {

    private static final long EMPTY = -1L; // ids are non-negative, so no packed key is -1

    private final long[] keys;
    private final int[] values;
    private final int mask;

    /** @param expected the number of pairs to hold; the table is sized to stay at most half full */
    PairRanks(int expected) {
        int capacity = Integer.highestOneBit(Math.max(4, expected * 2 - 1)) << 1;
        keys = new long[capacity];
        values = new int[capacity];
        mask = capacity - 1;
        Arrays.fill(keys, EMPTY);
    }

    private static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private int slot(long key) {
        return (int) ((key * 0x9E3779B97F4A7C15L) >>> 40) & mask; // Fibonacci hashing
    }

    /** @return the rank of (left, right), or -1 if the pair is not a merge */
    int get(int left, int right) {
        long key = key(left, right);
        for (int i = slot(key); ; i = (i + 1) & mask) {
            if (keys[i] == key) {
                return values[i];
            }
            if (keys[i] == EMPTY) {
                return -1;
            }
        }
    }

    /** @return false, changing nothing, if the pair is already present */
    boolean putIfAbsent(int left, int right, int rank) {
        long key = key(left, right);
        for (int i = slot(key); ; i = (i + 1) & mask) {
            if (keys[i] == key) {
                return false;
            }
            if (keys[i] == EMPTY) {
                keys[i] = key;
                values[i] = rank;
                return true;
            }
        }
    }
}
