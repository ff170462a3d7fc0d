package ai.fulgur.training.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.Record;
import ai.fulgur.training.loss.TokenCrossEntropyLoss;
import org.junit.jupiter.api.Test;

class AdditionTaskTest {

    @Test
    void problemsAreEncodedWithTheSumBackwards() {
        assertEquals("047+985=2301$", AdditionDataset.toText(AdditionDataset.encode(47, 985, 3)));
        assertEquals(1032, AdditionDataset.decodeAnswer(new int[] {2, 3, 0, 1}));
        AdditionDataset train = AdditionDataset.builder().optDigits(3).build();
        AdditionDataset heldOut = AdditionDataset.builder().optDigits(3).optHeldOut(true).build();
        for (long i = 0; i < 2000; i++) {
            long[] t = train.operands(i);
            long[] h = heldOut.operands(i);
            assertFalse(AdditionDataset.isHeldOut(t[0], t[1]));
            assertTrue(AdditionDataset.isHeldOut(h[0], h[1]));
        }
        try (NDManager m = NDManager.newBaseManager("Fulgur")) {
            Record r = train.get(m, 5);
            int[] x = r.getData().head().toIntArray();
            int[] y = r.getLabels().head().toIntArray();
            long[] ab = train.operands(5);
            int[] seq = AdditionDataset.encode(ab[0], ab[1], 3);
            for (int i = 0; i < x.length; i++) {
                assertEquals(seq[i], x[i]);
                assertEquals(i < 7 ? TokenCrossEntropyLoss.IGNORE : seq[i + 1], y[i], "label " + i);
            }
        }
    }

    /** The built-in job's recipe, at 2 digits to keep the suite fast: held-out problems are solved. */
    @Test
    void aSmallTransformerLearnsTwoDigitAddition() {
        AdditionTask.Config d = AdditionTask.Config.defaults();
        AdditionTask.Result r = AdditionTask.run(new AdditionTask.Config("Fulgur", "cpu", 2, 400, d.batchSize(),
                d.layers(), d.heads(), d.embedding(), d.lr(), d.seed(), 500, null), null);
        assertTrue(r.exactMatch() >= 0.95, "exact match " + r.exactMatch() + " on " + r.evaluated()
                + " held-out problems; samples " + r.samples());
    }
}
