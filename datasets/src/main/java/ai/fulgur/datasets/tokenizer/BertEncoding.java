package ai.fulgur.datasets.tokenizer;

/**
 * One BERT input row, all three arrays of the same length (the requested maximum length, padding included).
 *
 * @param inputIds token ids: {@code [CLS] a [SEP]} or {@code [CLS] a [SEP] b [SEP]}, then {@code [PAD]}s
 * @param tokenTypeIds segment of each position: 0 for {@code [CLS]}, the first text and its {@code [SEP]}; 1 for the
 *     second text and the final {@code [SEP]}; 0 for padding
 * @param attentionMask 1 for real tokens, 0 for padding
 */
public record BertEncoding(int[] inputIds, int[] tokenTypeIds, int[] attentionMask) {

    /** Checks the three arrays have one length. */
    public BertEncoding {
        if (inputIds.length != tokenTypeIds.length || inputIds.length != attentionMask.length) {
            throw new IllegalArgumentException("inputIds, tokenTypeIds and attentionMask must have one length, got "
                    + inputIds.length + ", " + tokenTypeIds.length + " and " + attentionMask.length);
        }
    }

    /** @return the row length, padding included */
    public int length() {
        return inputIds.length;
    }

    /** @return the number of real (unpadded) positions */
    public int realLength() {
        int n = 0;
        for (int m : attentionMask) {
            n += m;
        }
        return n;
    }
}
