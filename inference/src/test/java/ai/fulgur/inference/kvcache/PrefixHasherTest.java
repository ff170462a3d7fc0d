package ai.fulgur.inference.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.junit.jupiter.api.Test;

class PrefixHasherTest {
    @Test
    void hashDependsOnTokensOrderAndPrefix() {
        PrefixHasher h = PrefixHasher.SHA_256;
        BlockHash a = h.hash(null, new int[] {1, 2, 3, 4});
        assertEquals(a, h.hash(null, new int[] {1, 2, 3, 4}));
        assertNotEquals(a, h.hash(null, new int[] {1, 2, 4, 3}));
        BlockHash childOfA = h.hash(a, new int[] {5, 6, 7, 8});
        BlockHash childOfOther = h.hash(h.hash(null, new int[] {9, 9, 9, 9}), new int[] {5, 6, 7, 8});
        assertNotEquals(childOfA, childOfOther);
        assertNotEquals(h.hash(null, new int[] {5, 6, 7, 8}), childOfA);
        assertEquals(32, a.toString().length());
    }
}
