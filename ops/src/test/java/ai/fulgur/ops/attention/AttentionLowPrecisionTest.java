package ai.fulgur.ops.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.cpu.HalfFloats;
import java.util.Locale;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * BF16 and F16 inputs, FlashAttention's rule: the kernel's max error against the float64 reference of the same
 * (rounded) inputs is at most twice the error of a naive attention computed in the same low precision, plus 1e-5
 * (the naive path rounds S, P, the output, dP, dS and the gradients to the dtype, accumulating products exactly,
 * as a half-precision matmul with F32 accumulation does). Applied to out, dq, dk and dv.
 */
class AttentionLowPrecisionTest {

    private static DoubleUnaryOperator rounding(DType dtype) {
        return dtype == DType.BF16 ? x -> HalfFloats.roundToBf16((float) x) : x -> HalfFloats.roundToF16((float) x);
    }

    @ParameterizedTest(name = "{0}, causal {1}, D {2}")
    @CsvSource({"BF16, false, 64", "BF16, true, 64", "F16, false, 64", "F16, true, 64", "BF16, true, 128",
            "F16, false, 40"})
    void errorAtMostTwiceThatOfANaiveLowPrecisionAttention(DType dtype, boolean causal, int d) {
        Tensor[] t = AttentionAsserts.operands(d + (causal ? 1 : 0), dtype, 2, 113, 203, 4, 2, d);
        AttentionSpec spec = AttentionSpec.dense(d).withCausal(causal);
        AttentionAsserts.Flash flash = AttentionAsserts.flash(t[0], t[1], t[2], t[3], spec);
        assertEquals(dtype, flash.out().dtype(), "out keeps the input dtype");
        assertEquals(dtype, flash.dq().dtype(), "dq keeps the input dtype");
        assertEquals(DType.F32, flash.lse().dtype(), "lse is F32");

        AttentionReference.Result exact = AttentionReference.run(t[0], t[1], t[2], t[3], spec);
        AttentionReference.Result naive = AttentionReference.run(t[0], t[1], t[2], t[3], spec, rounding(dtype));
        Tensor[] got = {flash.out(), flash.dq(), flash.dk(), flash.dv()};
        Tensor[] want = {exact.out(), exact.dq(), exact.dk(), exact.dv()};
        Tensor[] same = {naive.out(), naive.dq(), naive.dk(), naive.dv()};
        String[] names = {"out", "dq", "dk", "dv"};
        for (int i = 0; i < 4; i++) {
            double kernel = AttentionAsserts.maxDiff(want[i], got[i]);
            double lowPrecision = AttentionAsserts.maxDiff(want[i], same[i]);
            System.out.printf(Locale.ROOT, "%s causal=%b D=%d %s: max error flash %.3g, naive %s %.3g (ratio %.2f)%n",
                    dtype, causal, d, names[i], kernel, dtype, lowPrecision, kernel / lowPrecision);
            assertTrue(kernel <= 2 * lowPrecision + 1e-5, dtype + " " + names[i] + ": flash max error " + kernel
                    + " exceeds 2 × the naive " + dtype + " error " + lowPrecision + " + 1e-5");
        }
        // and the F32 path on the same (exactly representable) values stays within the F32 tolerance
        AttentionAsserts.Flash f32 = AttentionAsserts.flash(t[0].cast(DType.F32), t[1].cast(DType.F32),
                t[2].cast(DType.F32), t[3].cast(DType.F32), spec);
        AttentionAsserts.assertNear(dtype + " inputs in F32: dq", exact.dq(), f32.dq(), AttentionAsserts.F32_REL);
    }
}
