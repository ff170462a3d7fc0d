package ai.fulgur.ops.attention;

import ai.fulgur.ops.Tensor;

/**
 * The sequences of one attention call, resolved on the host from the tensors' shapes and the spec: for sequence b,
 * its first query row and key row along the (possibly packed) row axis, its query count, the key count the causal
 * and window masks align to, and the number of valid keys.
 *
 * @param batchIndex the B index of each sequence in the 4-D tensors (0 for every sequence of a packed batch)
 * @param qStart     first query row of each sequence along axis 1
 * @param kStart     first key row of each sequence along axis 1
 * @param nq         queries per sequence
 * @param nkAlign    keys per sequence as the causal/window alignment and the dropout row stride see them
 * @param nkValid    keys per sequence that may be attended (≤ nkAlign; smaller for a padded batch)
 */
public record Sequences(int[] batchIndex, long[] qStart, long[] kStart, long[] nq, long[] nkAlign, long[] nkValid) {

    /** Resolves the sequences of q (B, Nq, H, D) and k (B, Nk, Hkv, D) under {@code spec}. */
    public static Sequences of(Tensor q, Tensor k, AttentionSpec spec) {
        if (spec.isPacked()) {
            long[] cuQ = spec.cuSeqlensQ().toLongArray();
            long[] cuK = spec.cuSeqlensK().toLongArray();
            int b = cuQ.length - 1;
            if (b < 1 || cuK.length != cuQ.length) {
                throw new IllegalArgumentException("cuSeqlensQ (" + cuQ.length + " entries) and cuSeqlensK ("
                        + cuK.length + " entries) must both hold B + 1 >= 2 offsets");
            }
            checkOffsets("cuSeqlensQ", cuQ, q.shape().dim(1));
            checkOffsets("cuSeqlensK", cuK, k.shape().dim(1));
            int[] batch = new int[b];
            long[] qs = new long[b];
            long[] ks = new long[b];
            long[] nq = new long[b];
            long[] nk = new long[b];
            for (int i = 0; i < b; i++) {
                qs[i] = cuQ[i];
                ks[i] = cuK[i];
                nq[i] = cuQ[i + 1] - cuQ[i];
                nk[i] = cuK[i + 1] - cuK[i];
            }
            return new Sequences(batch, qs, ks, nq, nk, nk.clone());
        }
        int b = Math.toIntExact(q.shape().dim(0));
        long nqAll = q.shape().dim(1);
        long nkAll = k.shape().dim(1);
        long[] valid = new long[b];
        java.util.Arrays.fill(valid, nkAll);
        if (spec.keyLengths() != null) {
            long[] lengths = spec.keyLengths().toLongArray();
            if (lengths.length != b) {
                throw new IllegalArgumentException("keyLengths has " + lengths.length + " entries, expected batch size "
                        + b);
            }
            for (int i = 0; i < b; i++) {
                if (lengths[i] < 0 || lengths[i] > nkAll) {
                    throw new IllegalArgumentException("keyLengths[" + i + "] = " + lengths[i] + " is outside [0, "
                            + nkAll + "]");
                }
                valid[i] = lengths[i];
            }
        }
        int[] batch = new int[b];
        long[] nq = new long[b];
        long[] nk = new long[b];
        for (int i = 0; i < b; i++) {
            batch[i] = i;
            nq[i] = nqAll;
            nk[i] = nkAll;
        }
        return new Sequences(batch, new long[b], new long[b], nq, nk, valid);
    }

    /** Number of sequences. */
    public int count() {
        return nq.length;
    }

    /** Whether key j is visible from query i of sequence s. */
    public boolean visible(AttentionSpec spec, int s, long i, long j) {
        return j < nkValid[s] && spec.visible(i, j, nq[s], nkAlign[s]);
    }

    /** First key that query i of sequence s may see (inclusive). */
    public long firstKey(AttentionSpec spec, int s, long i) {
        if (spec.windowLeft() < 0) {
            return 0;
        }
        return Math.max(0, i + nkAlign[s] - nq[s] - spec.windowLeft());
    }

    /** One past the last key that query i of sequence s may see. */
    public long endKey(AttentionSpec spec, int s, long i) {
        long end = nkValid[s];
        if (spec.windowRight() >= 0) {
            end = Math.min(end, i + nkAlign[s] - nq[s] + spec.windowRight() + 1);
        }
        return Math.max(0, end);
    }

    private static void checkOffsets(String name, long[] cu, long rows) {
        if (cu[0] != 0) {
            throw new IllegalArgumentException(name + "[0] must be 0, got " + cu[0]);
        }
        for (int i = 1; i < cu.length; i++) {
            if (cu[i] < cu[i - 1]) {
                throw new IllegalArgumentException(name + " must be non-decreasing: [" + (i - 1) + "] = " + cu[i - 1]
                        + " > [" + i + "] = " + cu[i]);
            }
        }
        if (cu[cu.length - 1] > rows) {
            throw new IllegalArgumentException(name + " ends at " + cu[cu.length - 1] + " but the tensor has " + rows
                    + " rows");
        }
    }
}
