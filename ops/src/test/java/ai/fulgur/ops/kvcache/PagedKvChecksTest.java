package ai.fulgur.ops.kvcache;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** The facade's argument checks: each bad call fails with a message naming the bad value and what was expected. */
class PagedKvChecksTest {

    private static Tensor t(DType dtype, long... shape) {
        return Tensor.zeros(Shape.of(shape), dtype, Device.CPU);
    }

    private static Tensor cache() {
        return t(DType.F32, 4, 8, 2, 16); // 4 blocks of 8 slots, 2 kv heads, D 16
    }

    private static Tensor ints(int... values) {
        return Tensor.of(values, values.length);
    }

    private static <E extends Throwable> void assertMessage(Class<E> type, Executable call, String... fragments) {
        E e = assertThrows(type, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message \"" + e.getMessage() + "\" should contain \"" + f + "\"");
        }
    }

    private static void assertMessage(Executable call, String... fragments) {
        assertMessage(IllegalArgumentException.class, call, fragments);
    }

    private static void attend(Tensor query, Tensor tables, Tensor starts, Tensor lens, PagedAttentionSpec spec) {
        PagedKv.pagedAttention(query, cache(), cache(), tables, starts, lens, spec);
    }

    @Test
    void cacheShapesAndDtypes() {
        Tensor k = cache();
        assertMessage(() -> PagedKv.reshapeAndCache(t(DType.F32, 4, 8, 32), k, t(DType.F32, 1, 2, 16),
                t(DType.F32, 1, 2, 16), ints(0)), "keyCache (4, 8, 32)", "rank 4");
        assertMessage(() -> PagedKv.reshapeAndCache(k, t(DType.BF16, 4, 8, 2, 16), t(DType.F32, 1, 2, 16),
                t(DType.F32, 1, 2, 16), ints(0)), "valueCache (4, 8, 2, 16) BF16", "dtype");
        assertMessage(() -> PagedKv.reshapeAndCache(k, k, t(DType.F32, 1, 3, 16), t(DType.F32, 1, 3, 16), ints(0)),
                "key (1, 3, 16)", "(tokens, 2, 16)");
        assertMessage(() -> PagedKv.reshapeAndCache(k, k, t(DType.BF16, 1, 2, 16), t(DType.BF16, 1, 2, 16),
                ints(0)), "key (1, 2, 16) BF16", "dtype mismatch");
        assertMessage(() -> PagedKv.reshapeAndCache(t(DType.I32, 4, 8, 2, 16), t(DType.I32, 4, 8, 2, 16),
                t(DType.I32, 1, 2, 16), t(DType.I32, 1, 2, 16), ints(0)), "keyCache (4, 8, 2, 16) I32", "floating");
        assertMessage(() -> PagedKv.reshapeAndCache(t(DType.F32, 1, 8, 2, 300), t(DType.F32, 1, 8, 2, 300),
                t(DType.F32, 1, 2, 300), t(DType.F32, 1, 2, 300), ints(0)), "head dim", "256", "300");
        Tensor strided = t(DType.F32, 4, 8, 4, 16).slice(2, 0, 2);
        assertMessage(() -> PagedKv.reshapeAndCache(strided, strided, t(DType.F32, 1, 2, 16), t(DType.F32, 1, 2, 16),
                ints(0)), "keyCache (4, 8, 2, 16)", "contiguous");
    }

    @Test
    void slotMapping() {
        Tensor k = cache();
        Tensor kv = t(DType.F32, 2, 2, 16);
        assertMessage(() -> PagedKv.reshapeAndCache(k, k, kv, kv, Tensor.of(new long[] {0, 1}, 2)),
                "slotMapping (2) I64", "I32", "cast(DType.I32)");
        assertMessage(() -> PagedKv.reshapeAndCache(k, k, kv, kv, ints(0, 1, 2)), "slotMapping (3)", "(2)");
        assertMessage(IndexOutOfBoundsException.class, () -> PagedKv.reshapeAndCache(k, k, kv, kv, ints(3, 32)),
                "slotMapping[1] = 32", "32 slots");
    }

    @Test
    void queryAndOut() {
        PagedAttentionSpec spec = new PagedAttentionSpec(0.25, 1, 8);
        Tensor tables = Tensor.of(new int[] {0}, 1, 1);
        assertMessage(() -> attend(t(DType.F32, 1, 2, 8), tables, ints(0, 1), ints(8), spec), "head dims differ",
                "query (1, 2, 8)");
        assertMessage(() -> attend(t(DType.F32, 1, 3, 16), tables, ints(0, 1), ints(8), spec),
                "key/value heads (2)", "query heads (3)");
        assertMessage(() -> attend(t(DType.F32, 2, 16), tables, ints(0, 1), ints(8), spec), "query (2, 16)",
                "rank 3");
        assertMessage(() -> attend(t(DType.F16, 1, 2, 16), tables, ints(0, 1), ints(8), spec), "query (1, 2, 16) F16",
                "dtype mismatch");
        assertMessage(() -> PagedKv.pagedAttention(t(DType.F32, 1, 4, 16), t(DType.F32, 1, 2, 16), cache(), cache(),
                tables, ints(0, 1), ints(8), spec), "out (1, 4, 16)", "query (1, 2, 16)");
    }

    @Test
    void sequencesAndBlockTables() {
        Tensor q = t(DType.F32, 3, 2, 16);
        PagedAttentionSpec spec = new PagedAttentionSpec(0.25, 2, 20);
        Tensor tables = Tensor.of(new int[] {0, 1, 2, 3}, 2, 2);
        // 2 sequences: rows [0, 2) and [2, 3)
        assertMessage(() -> attend(q, tables, ints(0, 2), ints(9, 8), spec), "blockTables must have 2 rows",
                "queryStarts 3 entries");
        assertMessage(() -> attend(q, tables, ints(0, 2, 4), ints(9, 8), spec), "queryStarts", "0 to the 3 query rows");
        assertMessage(() -> attend(q, tables, ints(0, 0, 3), ints(9, 8), spec), "sequence 0 has 0 query rows");
        assertMessage(() -> attend(q, tables, ints(0, 2, 3), ints(1, 8), spec), "contextLens[0] = 1", "2 new tokens");
        assertMessage(() -> attend(q, tables, ints(0, 2, 3), ints(9, 21), spec), "contextLens[1] = 21",
                "maxContextLength = 20");
        assertMessage(() -> attend(q, tables, ints(0, 2, 3), ints(9, 17), spec), "contextLens[1] = 17", "3 blocks",
                "2 columns");
        assertMessage(() -> attend(q, tables, ints(0, 2, 3), ints(9, 8), new PagedAttentionSpec(0.25, 1, 20)),
                "sequence 0 has 2 query rows", "maxQueryLength = 1");
        Tensor badTable = Tensor.of(new int[] {0, 4, 2, 3}, 2, 2);
        assertMessage(IndexOutOfBoundsException.class, () -> attend(q, badTable, ints(0, 2, 3), ints(9, 8), spec),
                "blockTables[0, 1] = 4", "0 to 3");
        // an unused column may hold anything
        attend(q, badTable, ints(0, 2, 3), ints(8, 8), spec);
        assertMessage(() -> attend(q, Tensor.of(new long[] {0, 1, 2, 3}, 2, 2), ints(0, 2, 3), ints(9, 8), spec),
                "blockTables (2, 2) I64", "I32");
    }

    @Test
    void specValues() {
        assertMessage(() -> new PagedAttentionSpec(0, 1, 1), "scale", "0.0");
        assertMessage(() -> new PagedAttentionSpec(1, 0, 1), "maxQueryLength", "0");
        assertMessage(() -> new PagedAttentionSpec(1, 4, 2), "maxContextLength (2)", "maxQueryLength (4)");
    }

    @Test
    void blockCopies() {
        Tensor a = cache();
        assertMessage(() -> PagedKv.copyBlocks(List.of(a, t(DType.F32, 5, 8, 2, 16)), new int[] {0}, new int[] {1}),
                "caches[1] (5, 8, 2, 16)", "shape mismatch");
        assertMessage(() -> PagedKv.copyBlocks(List.of(a), new int[] {0, 1}, new int[] {2}), "2 sources",
                "1 destinations");
        assertMessage(IndexOutOfBoundsException.class, () -> PagedKv.copyBlocks(List.of(a), new int[] {4},
                new int[] {1}), "sources[0] = 4", "[0, 4)");
        assertMessage(() -> PagedKv.copyBlocks(List.of(a), new int[] {0, 1}, new int[] {2, 2}), "block 2",
                "twice");
        assertMessage(() -> PagedKv.copyBlocks(List.of(a), new int[] {0, 2}, new int[] {2, 3}), "sources[1] = 2",
                "also a destination");
        assertMessage(() -> PagedKv.copyBlocks(List.of(), new int[0], new int[0]), "no caches");
        assertMessage(() -> PagedKv.swapBlocks(a, t(DType.F32, 9, 8, 1, 16), new int[] {0}, new int[] {1}),
                "block shapes differ", "dst (9, 8, 1, 16)");
        assertMessage(IndexOutOfBoundsException.class, () -> PagedKv.swapBlocks(a, t(DType.F32, 2, 8, 2, 16),
                new int[] {3}, new int[] {2}), "destinations[0] = 2", "[0, 2)");
    }
}
