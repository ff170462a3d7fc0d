package ai.fulgur.datasets.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Record;
import ai.fulgur.datasets.shard.TokenSource;
import ai.fulgur.datasets.tokenizer.WordPieceTokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Masked-LM rows checked position by position against the unmasked sequence, and the masking rates measured over
 * many rows against BERT's 15% and 80/10/10.
 */
class MaskedLmDatasetTest {

    private static final WordPieceTokenizer BERT = WordPieceTokenizer.bertBaseUncased();
    private static final Set<Integer> SPECIALS = Set.copyOf(BERT.specialTokens().values());
    private static final int T = 64;

    /** Random ordinary tokens (ids 999 and up are words in bert-base-uncased), some with [UNK]s, some too long. */
    private static List<int[]> sequences(int count, long seed) {
        Random random = new Random(seed);
        List<int[]> out = new ArrayList<>();
        for (int s = 0; s < count; s++) {
            int[] sequence = new int[random.nextInt(80)];
            for (int i = 0; i < sequence.length; i++) {
                sequence[i] = random.nextInt(50) == 0 ? BERT.unkId() : 999 + random.nextInt(BERT.vocabSize() - 999);
            }
            out.add(sequence);
        }
        return out;
    }

    private static MaskedLmDataset dataset(List<int[]> sequences, long seed) {
        return MaskedLmDataset.builder().setTokenizer(BERT).setSequences(sequences).setMaxLength(T).optSeed(seed)
                .setSampling(8, true).build();
    }

    @Test
    void rowsFrameMaskAndLabelTheSequence() {
        List<int[]> sequences = sequences(300, 1);
        MaskedLmDataset dataset = dataset(sequences, 5);
        for (int index = 0; index < sequences.size(); index++) {
            int[] original = Arrays.copyOf(sequences.get(index), Math.min(sequences.get(index).length, T - 2));
            MaskedLmSample sample = dataset.sample(index);
            int[] ids = sample.inputIds();
            int[] labels = sample.labels();
            assertEquals(original.length + 2, sample.validLength());
            assertEquals(BERT.clsId(), ids[0]);
            assertEquals(BERT.sepId(), ids[sample.validLength() - 1]);
            assertArrayEquals(new int[T], sample.tokenTypeIds());
            int candidates = 0;
            int chosen = 0;
            for (int t = 0; t < T; t++) {
                boolean content = t >= 1 && t <= original.length;
                if (!content) {
                    assertEquals(MaskedLmDataset.IGNORE_INDEX, labels[t], "row " + index + " special/pad at " + t);
                    if (t >= sample.validLength()) {
                        assertEquals(BERT.padId(), ids[t]);
                    }
                    continue;
                }
                int token = original[t - 1];
                if (!SPECIALS.contains(token)) {
                    candidates++;
                }
                if (labels[t] == MaskedLmDataset.IGNORE_INDEX) {
                    assertEquals(token, ids[t], "row " + index + ": an unchosen position changed at " + t);
                } else {
                    chosen++;
                    assertEquals(token, labels[t], "row " + index + ": the label is the original token");
                    assertTrue(!SPECIALS.contains(token), "row " + index + ": special token chosen at " + t);
                    assertTrue(ids[t] == BERT.maskId() || !SPECIALS.contains(ids[t]),
                            "row " + index + ": replaced by a special token other than [MASK]");
                }
            }
            int expected = candidates == 0 ? 0 : (int) Math.max(1, Math.round(candidates * 0.15));
            assertEquals(expected, chosen, "row " + index + " with " + candidates + " ordinary tokens");
        }
    }

    @Test
    void ratesAreFifteenPercentAndEightyTenTen() {
        List<int[]> sequences = sequences(3000, 2);
        MaskedLmDataset dataset = dataset(sequences, 11);
        long candidates = 0;
        long chosen = 0;
        long masked = 0;
        long randomized = 0;
        long kept = 0;
        for (int index = 0; index < sequences.size(); index++) {
            MaskedLmSample sample = dataset.sample(index);
            for (int t = 1; t < sample.validLength() - 1; t++) {
                int original = sequences.get(index)[t - 1];
                if (!SPECIALS.contains(original)) {
                    candidates++;
                }
                if (sample.labels()[t] != MaskedLmDataset.IGNORE_INDEX) {
                    chosen++;
                    int now = sample.inputIds()[t];
                    if (now == BERT.maskId()) {
                        masked++;
                    } else if (now == original) {
                        kept++;
                    } else {
                        randomized++;
                    }
                }
            }
        }
        // about 110,000 ordinary tokens and 16,000 chosen: 0.015 is over 4 standard deviations of the shares
        double rate = (double) chosen / candidates;
        assertTrue(Math.abs(rate - 0.15) < 0.005, "chosen rate " + rate);
        assertTrue(Math.abs((double) masked / chosen - 0.8) < 0.015, "[MASK] share " + (double) masked / chosen);
        assertTrue(Math.abs((double) randomized / chosen - 0.1) < 0.012, "random share " + (double) randomized / chosen);
        assertTrue(Math.abs((double) kept / chosen - 0.1) < 0.012, "kept share " + (double) kept / chosen);
    }

    @Test
    void masksDependOnlyOnSeedEpochAndIndex() {
        List<int[]> sequences = sequences(50, 3);
        MaskedLmDataset a = dataset(sequences, 9);
        MaskedLmDataset b = dataset(sequences, 9);
        MaskedLmSample first = a.sample(40);
        a.sample(3);
        assertArrayEquals(first.inputIds(), b.sample(40).inputIds());
        assertArrayEquals(first.labels(), a.sample(40).labels());
        assertNotEquals(Arrays.toString(first.labels()), Arrays.toString(dataset(sequences, 10).sample(40).labels()));
        a.setEpoch(1);
        assertNotEquals(Arrays.toString(first.labels()), Arrays.toString(a.sample(40).labels()));
    }

    @Test
    void corpusIsCutIntoConsecutiveRows() {
        int[] corpus = new int[105];
        Arrays.setAll(corpus, i -> 2000 + i);
        MaskedLmDataset dataset = MaskedLmDataset.builder().setTokenizer(BERT).setTokens(TokenSource.of(corpus))
                .setMaxLength(12).setSampling(4, false).build();
        assertEquals(11, dataset.size()); // ten rows of 10 tokens and one of 5
        for (int row = 0; row < 11; row++) {
            int from = row * 10;
            assertArrayEquals(Arrays.copyOfRange(corpus, from, Math.min(from + 10, 105)), dataset.tokens(row));
        }
        assertEquals(7, dataset.sample(10).validLength());
    }

    @Test
    void recordsAndBatchesHaveTheDocumentedShapes() throws Exception {
        List<int[]> sequences = sequences(10, 4);
        MaskedLmDataset dataset = dataset(sequences, 1);
        try (NDManager manager = TorchManagers.cpu()) {
            Record record = dataset.get(manager, 2);
            NDList data = record.getData();
            assertEquals(3, data.size());
            assertEquals(List.of("input_ids", "token_type_ids", "attention_mask"),
                    data.stream().map(NDArray::getName).toList());
            for (NDArray array : data) {
                assertEquals(DataType.INT32, array.getDataType());
            }
            assertEquals(new Shape(T), data.get(0).getShape());
            assertEquals(new Shape(T), data.get(1).getShape());
            assertEquals(new Shape(T), data.get(2).getShape());
            MaskedLmSample sample = dataset.sample(2);
            assertArrayEquals(sample.inputIds(), data.get(0).toIntArray());
            assertEquals(sample.validLength(), java.util.Arrays.stream(data.get(2).toIntArray()).sum());
            assertEquals(1, data.get(2).getInt(sample.validLength() - 1));
            NDArray labels = record.getLabels().singletonOrThrow();
            assertEquals("mlm_labels", labels.getName());
            assertArrayEquals(sample.labels(), labels.toIntArray());

            Batch batch = dataset.getData(manager).iterator().next();
            assertEquals(new Shape(8, T), batch.getData().get(0).getShape());
            assertEquals(new Shape(8, T), batch.getData().get(2).getShape());
            assertEquals(new Shape(8, T), batch.getLabels().get(0).getShape());
            batch.close();
        }
    }

    @Test
    void badSetupsAreNamed() {
        MaskedLmDataset dataset = dataset(List.of(new int[] {5, BERT.vocabSize()}), 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> dataset.sample(0));
        assertEquals("token 30522 at position 1 of row 0 is outside the vocabulary [0, 30522)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MaskedLmDataset.builder().setMaxLength(2));
        e = assertThrows(IllegalArgumentException.class, () -> MaskedLmDataset.builder().optReplacement(0.8, 0.3));
        assertEquals("[MASK] share + random-token share must be at most 1, got 0.8 + 0.3", e.getMessage());
        assertThrows(IllegalStateException.class, () -> MaskedLmDataset.builder().setTokenizer(BERT).setMaxLength(8)
                .setSampling(1, false).build());
    }
}
