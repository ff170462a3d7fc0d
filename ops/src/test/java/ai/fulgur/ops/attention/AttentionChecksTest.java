package ai.fulgur.ops.attention;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The facade's and the spec's argument checks: each bad call fails with an {@link IllegalArgumentException} whose
 * message names the values that were wrong (shapes, head counts, dtypes, lengths, layout sizes).
 */
class AttentionChecksTest {

    private static Tensor t(DType dtype, long... shape) {
        return Tensor.zeros(Shape.of(shape), dtype, Device.CPU);
    }

    private static Tensor f32(long... shape) {
        return t(DType.F32, shape);
    }

    private static void assertMessage(Executable call, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message \"" + e.getMessage() + "\" should contain \"" + f + "\"");
        }
    }

    private static void forward(Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        Attention.flashForward(q, k, v, spec);
    }

    @Test
    void shapesRanksAndHeads() {
        AttentionSpec spec = AttentionSpec.dense(16);
        assertMessage(() -> forward(f32(8, 2, 16), f32(1, 8, 2, 16), f32(1, 8, 2, 16), spec), "q (8, 2, 16)",
                "rank 4");
        assertMessage(() -> forward(f32(1, 8, 2, 16), f32(1, 8, 2, 16, 1), f32(1, 8, 2, 16, 1), spec),
                "k (1, 8, 2, 16, 1)", "rank 4");
        assertMessage(() -> forward(f32(1, 8, 2, 16), f32(1, 8, 2, 32), f32(1, 8, 2, 32), spec), "head dims differ",
                "q (1, 8, 2, 16)", "k (1, 8, 2, 32)");
        assertMessage(() -> forward(f32(1, 8, 2, 16), f32(1, 8, 2, 16), f32(1, 9, 2, 16), spec), "k (1, 8, 2, 16)",
                "v (1, 9, 2, 16)");
        assertMessage(() -> forward(f32(1, 8, 6, 16), f32(1, 8, 4, 16), f32(1, 8, 4, 16), spec), "(4)", "(6)",
                "divide");
        assertMessage(() -> forward(f32(2, 8, 2, 16), f32(3, 8, 2, 16), f32(3, 8, 2, 16), spec), "batch sizes differ",
                "q (2, 8, 2, 16)", "k (3, 8, 2, 16)");
        assertMessage(() -> forward(f32(1, 4, 1, 257), f32(1, 4, 1, 257), f32(1, 4, 1, 257), spec), "257", "256");
    }

    @Test
    void dtypes() {
        AttentionSpec spec = AttentionSpec.dense(16);
        Tensor q64 = t(DType.F64, 1, 8, 2, 16);
        assertMessage(() -> forward(q64, q64, q64, spec), "q (1, 8, 2, 16) F64", "NaiveAttention");
        assertMessage(() -> forward(f32(1, 8, 2, 16), t(DType.BF16, 1, 8, 2, 16), t(DType.BF16, 1, 8, 2, 16), spec),
                "F32", "BF16");
        Tensor qi = t(DType.I64, 1, 8, 2, 16);
        assertMessage(() -> forward(qi, qi, qi, spec), "I64");
    }

    @Test
    void backwardOperands() {
        AttentionSpec spec = AttentionSpec.dense(16);
        Tensor q = f32(1, 8, 2, 16);
        Attention.Forward f = Attention.flashForward(q, q, q, spec);
        assertMessage(() -> Attention.flashBackward(f32(1, 7, 2, 16), q, q, q, f.out(), f.lse(), spec),
                "dout (1, 7, 2, 16)", "q (1, 8, 2, 16)");
        assertMessage(() -> Attention.flashBackward(f32(1, 8, 2, 16), q, q, q, f32(1, 8, 2, 8), f.lse(), spec),
                "out (1, 8, 2, 8)");
        assertMessage(() -> Attention.flashBackward(t(DType.BF16, 1, 8, 2, 16), q, q, q, f.out(), f.lse(), spec),
                "dout (1, 8, 2, 16) BF16");
    }

    @Test
    void blockSparseLayouts() {
        Tensor q = f32(1, 40, 4, 16);
        AttentionSpec small = AttentionSpec.dense(16).withLayout(BlockSparseLayout.dense(16, 2, 2));
        assertMessage(() -> forward(q, q, q, small), "40 queries", "40 keys", "3 × 3 blocks of 16", "covers 2 × 2");
        boolean[] threeHeads = new boolean[3 * 3 * 3];
        AttentionSpec heads = AttentionSpec.dense(16).withLayout(new BlockSparseLayout(16, 3, 3, 3, threeHeads));
        assertMessage(() -> forward(q, q, q, heads), "3 heads", "1 (shared) or 4");
        assertMessage(() -> new BlockSparseLayout(16, 1, 2, 2, new boolean[3]), "3 entries", "heads 1",
                "query blocks 2", "key blocks 2");
        assertMessage(() -> new BlockSparseLayout(0, 1, 2, 2, new boolean[4]), "0, 1, 2, 2");
    }

    @Test
    void paddingAndPackingOffsets() {
        Tensor q = f32(2, 8, 2, 16);
        Tensor k = f32(2, 50, 2, 16);
        assertMessage(() -> forward(q, k, k, AttentionSpec.dense(16).withKeyLengths(Tensor.of(new long[] {3, 99}, 2))),
                "keyLengths[1] = 99", "[0, 50]");
        assertMessage(() -> forward(q, k, k, AttentionSpec.dense(16).withKeyLengths(Tensor.of(new long[] {3}, 1))),
                "1 entries", "batch size 2");
        assertMessage(() -> forward(q, k, k, AttentionSpec.dense(16).withKeyLengths(Tensor.of(new long[] {-1, 3}, 2))),
                "keyLengths[0] = -1");

        Tensor pq = f32(1, 30, 2, 16);
        AttentionSpec decreasing = AttentionSpec.dense(16).withPacked(Tensor.of(new long[] {0, 20, 10}, 3),
                Tensor.of(new long[] {0, 5, 30}, 3));
        assertMessage(() -> forward(pq, pq, pq, decreasing), "cuSeqlensQ", "[1] = 20", "[2] = 10");
        AttentionSpec tooLong = AttentionSpec.dense(16).withPacked(Tensor.of(new long[] {0, 10, 31}, 3),
                Tensor.of(new long[] {0, 5, 30}, 3));
        assertMessage(() -> forward(pq, pq, pq, tooLong), "cuSeqlensQ ends at 31", "30 rows");
        AttentionSpec notZero = AttentionSpec.dense(16).withPacked(Tensor.of(new long[] {0, 10, 30}, 3),
                Tensor.of(new long[] {2, 5, 30}, 3));
        assertMessage(() -> forward(pq, pq, pq, notZero), "cuSeqlensK[0] must be 0, got 2");
        AttentionSpec counts = AttentionSpec.dense(16).withPacked(Tensor.of(new long[] {0, 10, 30}, 3),
                Tensor.of(new long[] {0, 30}, 2));
        assertMessage(() -> forward(pq, pq, pq, counts), "3 entries", "2 entries");
        Tensor batched = f32(2, 30, 2, 16);
        AttentionSpec packed = AttentionSpec.dense(16).withPacked(Tensor.of(new long[] {0, 30}, 2),
                Tensor.of(new long[] {0, 30}, 2));
        assertMessage(() -> forward(batched, batched, batched, packed), "q (2, 30, 2, 16)");
    }

    @Test
    void specValues() {
        assertMessage(() -> AttentionSpec.dense(16).withDropout(1.0, 0, 0), "got 1.0");
        assertMessage(() -> AttentionSpec.dense(16).withDropout(-0.1, 0, 0), "got -0.1");
        assertMessage(() -> AttentionSpec.dense(16).withScale(0), "got 0.0");
        assertMessage(() -> AttentionSpec.dense(16).withScale(Double.NaN), "got NaN");
        assertMessage(() -> AttentionSpec.dense(16).withWindow(-2, 3), "(-2, 3)");
        assertMessage(() -> AttentionSpec.dense(16).withPacked(Tensor.of(new long[] {0, 1}, 2), null), "both");
        assertMessage(() -> AttentionSpec.dense(16).withKeyLengths(Tensor.of(new long[] {1}, 1))
                .withPacked(Tensor.of(new long[] {0, 1}, 2), Tensor.of(new long[] {0, 1}, 2)), "not both");
    }
}
