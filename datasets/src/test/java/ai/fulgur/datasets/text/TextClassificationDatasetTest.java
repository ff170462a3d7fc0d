package ai.fulgur.datasets.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Record;
import ai.fulgur.datasets.lm.TorchManagers;
import ai.fulgur.datasets.tokenizer.BertEncoding;
import ai.fulgur.datasets.tokenizer.WordPieceTokenizer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Records equal the tokenizer's own encoding of each text, with the label beside it. */
class TextClassificationDatasetTest {

    private static final WordPieceTokenizer BERT = WordPieceTokenizer.bertBaseUncased();

    @Test
    void recordsAreTheWordPieceRowsAndLabels() throws Exception {
        List<LabeledText> examples = List.of(new LabeledText("Hello, world!", 1),
                new LabeledText("An unaffable review that goes on far too long for the row", 0),
                new LabeledText("", 2));
        TextClassificationDataset dataset = TextClassificationDataset.builder().setExamples(examples)
                .setTokenizer(BERT).setMaxLength(8).setSampling(3, false).build();
        assertEquals(3, dataset.size());
        try (NDManager manager = TorchManagers.cpu()) {
            for (int i = 0; i < examples.size(); i++) {
                BertEncoding expected = BERT.encodeSingle(examples.get(i).text(), 8);
                Record record = dataset.get(manager, i);
                NDList data = record.getData();
                assertEquals(List.of("input_ids", "token_type_ids", "attention_mask"),
                        data.stream().map(NDArray::getName).toList());
                assertArrayEquals(expected.inputIds(), data.get(0).toIntArray());
                assertArrayEquals(expected.tokenTypeIds(), data.get(1).toIntArray());
                assertEquals(new Shape(8), data.get(2).getShape());
                int[] mask = data.get(2).toIntArray();
                for (int t = 0; t < 8; t++) {
                    assertEquals(t < expected.realLength() ? 1 : 0, mask[t], "mask at " + t);
                }
                NDArray label = record.getLabels().singletonOrThrow();
                assertEquals(DataType.INT32, label.getDataType());
                assertEquals(new Shape(), label.getShape());
                assertEquals(examples.get(i).label(), label.getInt());
            }
            // the long text is cut to [CLS] + 6 pieces + [SEP]; the empty one is [CLS] [SEP] and padding
            assertEquals(8, dataset.encode(1).realLength());
            assertEquals(2, dataset.encode(2).realLength());

            Batch batch = dataset.getData(manager).iterator().next();
            assertEquals(new Shape(3, 8), batch.getData().get(0).getShape());
            assertArrayEquals(new int[] {1, 0, 2}, batch.getLabels().singletonOrThrow().toIntArray());
            assertArrayEquals(new int[] {6, 8, 2}, batch.getData().get(2).sum(new int[] {1})
                    .toType(DataType.INT32, false).toIntArray());
            batch.close();
        }
    }
}
