package ai.fulgur.datasets.text;

/** BERT's attention mask of a right-padded row: 1 for the first {@code realLength} positions, 0 after. */
public final class BertMask {
    private BertMask() {
    }

    /** The mask of a row of {@code length} positions whose first {@code realLength} are tokens. */
    public static int[] of(int realLength, int length) {
        if (realLength < 0 || realLength > length) {
            throw new IllegalArgumentException("real length " + realLength + " must be in [0, " + length + "]");
        }
        int[] mask = new int[length];
        java.util.Arrays.fill(mask, 0, realLength, 1);
        return mask;
    }
}
