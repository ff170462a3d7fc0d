package ai.fulgur.autograd.functions;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.autograd.Autocast;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionSpec;
import ai.fulgur.ops.attention.BlockSparseLayout;
import ai.fulgur.ops.attention.BlockSparsePatterns;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link PackedFlashAttention} computes what {@link FlashAttention} computes over three slice views of the packed
 * projection, output and packed gradient alike (the same CPU kernels on the same values: equal bits), for multi-head
 * and grouped-query heads, causal and dense, at a length that does not divide the tile; and checks its arguments.
 */
class PackedFlashAttentionTest {

    @Test
    void equalsFlashAttentionOverSliceViewsMultiHeadCausal() {
        comparesWithSlices(2, 37, 4, 4, 16, AttentionSpec.causal(16));
    }

    @Test
    void equalsFlashAttentionOverSliceViewsGroupedQueryDense() {
        comparesWithSlices(1, 29, 4, 2, 8, AttentionSpec.dense(8));
    }

    private static void comparesWithSlices(int b, int n, int hq, int hkv, int d, AttentionSpec spec) {
        SplittableRandom rnd = new SplittableRandom(5 + n);
        int heads = hq + 2 * hkv;
        Tensor packedData = normal(rnd, b, n, heads, d);
        Tensor weights = normal(rnd, b, n, hq, d); // loss = Σ o ∘ weights, so do = weights

        Variable packed = Variable.parameter(packedData);
        Variable o = PackedFlashAttention.apply(packed, hq, hkv, spec);
        assertEquals(Shape.of(b, n, hq, d), o.shape());
        o.mul(Variable.constant(weights)).sum().backward();

        Variable sliced = Variable.parameter(packedData.copy());
        Variable q = StridedView.slice(sliced, 2, 0, hq, 1);
        Variable k = StridedView.slice(sliced, 2, hq, hq + hkv, 1);
        Variable v = StridedView.slice(sliced, 2, hq + hkv, heads, 1);
        Variable reference = FlashAttention.apply(q, k, v, spec);
        reference.mul(Variable.constant(weights)).sum().backward();

        assertArrayEquals(reference.data().toFloatArray(), o.data().toFloatArray(), "output");
        float[] want = sliced.grad().toFloatArray();
        float[] got = packed.grad().toFloatArray();
        assertArrayEquals(want, got, "packed gradient (dq, dk, dv head ranges)");
        double norm = 0;
        for (float x : got) {
            norm += x * x;
        }
        assertTrue(norm > 0, "the gradient is not all zeros");
    }

    @Test
    void underAutocastTheHeadsRunInHalfAndTheGradientComesBackInHalf() {
        SplittableRandom rnd = new SplittableRandom(9);
        Variable packed = Variable.parameter(normal(rnd, 1, 19, 6, 8)); // F32 leaf, Hq = 2, Hkv = 2
        Variable o;
        try (Autocast.Scope s = Autocast.enable(DType.BF16)) {
            o = PackedFlashAttention.apply(packed, 2, 2, AttentionSpec.causal(8));
        }
        assertEquals(DType.BF16, o.dtype(), "attention output under a BF16 scope");
        o.sum().backward();
        assertEquals(DType.F32, packed.grad().dtype(), "the F32 leaf's gradient");
    }

    @Test
    void rejectsAHeadCountThatDoesNotMatchAndBlockSparseLayouts() {
        Variable packed = Variable.parameter(Tensor.zeros(Shape.of(1, 8, 5, 4), DType.F32,
                ai.fulgur.ops.Device.CPU));
        IllegalArgumentException heads = assertThrows(IllegalArgumentException.class,
                () -> PackedFlashAttention.apply(packed, 2, 2, AttentionSpec.dense(4)));
        assertTrue(heads.getMessage().contains("Hq = 2") && heads.getMessage().contains("(1, 8, 5, 4)"),
                heads.getMessage());
        BlockSparseLayout layout = BlockSparsePatterns.strided(16, 1, 1, true);
        Variable ok = Variable.parameter(Tensor.zeros(Shape.of(1, 8, 3, 4), DType.F32, ai.fulgur.ops.Device.CPU));
        IllegalArgumentException sparse = assertThrows(IllegalArgumentException.class,
                () -> PackedFlashAttention.apply(ok, 1, 1, AttentionSpec.dense(4).withLayout(layout)));
        assertTrue(sparse.getMessage().contains("block-sparse"), sparse.getMessage());
    }

    private static Tensor normal(SplittableRandom rnd, long... shape) {
        float[] v = new float[Math.toIntExact(Shape.of(shape).numel())];
        for (int i = 0; i < v.length; i++) {
            double u1 = rnd.nextDouble(1e-12, 1);
            double u2 = rnd.nextDouble();
            v[i] = (float) (Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
        }
        return Tensor.of(v, shape);
    }
}
