package ai.fulgur.datasets.lm;

/**
 * One masked-LM row before it becomes NDArrays; all arrays have the row length T.
 *
 * @param inputIds {@code [CLS] tokens [SEP] [PAD]...}, with the chosen positions masked or replaced
 * @param tokenTypeIds all 0 (one segment)
 * @param validLength the number of real tokens, {@code [CLS]} and {@code [SEP]} included; positions from here on
 *     are padding
 * @param labels the original token at each chosen position, {@link MaskedLmDataset#IGNORE_INDEX} elsewhere
 */
public record MaskedLmSample(int[] inputIds, int[] tokenTypeIds, int validLength, int[] labels) {
}
