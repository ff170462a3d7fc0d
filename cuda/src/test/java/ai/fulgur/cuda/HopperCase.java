package ai.fulgur.cuda;

import static ai.fulgur.cuda.GpuTest.GPU;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionSpec;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;

/**
 * One shape of the Hopper FlashAttention kernels' gpu tests (forward with cp.async or TMA, backward): lengths that are
 * not tile multiples, causal (bottom-right) with Nq &lt; Nk and Nq &gt; Nk, grouped-query and multi-query heads, a
 * softmax scale, and strided (B, H, N, D) views.
 *
 * @param transposed q, v (and dO) as (B, H, N, D) tensors viewed as (B, N, H, D)
 */
record HopperCase(String name, int b, int nq, int nk, int hq, int hkv, boolean causal, double scale,
        boolean transposed) {

    /** The cases every Hopper kernel test runs. */
    static List<HopperCase> all() {
        return List.of(
                new HopperCase("one row", 1, 1, 1, 2, 2, false, 0, false),
                new HopperCase("63", 2, 63, 63, 2, 2, false, 0, false),
                new HopperCase("129 causal", 1, 129, 129, 2, 2, true, 0, false),
                new HopperCase("200 causal", 2, 200, 200, 4, 4, true, 0, false),
                new HopperCase("1000 gqa", 1, 1000, 1000, 8, 2, false, 0, false),
                new HopperCase("1000 causal gqa", 1, 1000, 1000, 4, 2, true, 0, false),
                new HopperCase("2049 causal mqa", 1, 2049, 2049, 2, 1, true, 0, false),
                new HopperCase("causal nq < nk gqa", 2, 77, 300, 4, 2, true, 0, false),
                new HopperCase("causal nq > nk", 1, 300, 113, 2, 2, true, 0, false),
                new HopperCase("causal one query", 1, 1, 700, 2, 2, true, 0, false),
                new HopperCase("scale", 1, 129, 1023, 2, 2, false, 0.3, false),
                new HopperCase("(B, H, N, D) view", 2, 113, 150, 2, 2, false, 0, true),
                new HopperCase("(B, H, N, D) view causal", 2, 300, 300, 2, 2, true, 0, true));
    }

    /** The case's attention options at head dim {@code d}. */
    AttentionSpec spec(int d) {
        AttentionSpec spec = causal ? AttentionSpec.causal(d) : AttentionSpec.dense(d);
        return scale > 0 ? spec.withScale(scale) : spec;
    }

    /** Random (B, N, H, D) values in [-1, 1), on the CPU; a (B, H, N, D) tensor's transposed view when asked. */
    static Tensor input(SplittableRandom rnd, DType dtype, long b, long n, long h, long d, boolean transposed) {
        if (transposed) {
            return CudaTesting.random(rnd, dtype, -1, 1, b, h, n, d).transpose(1, 2);
        }
        return CudaTesting.random(rnd, dtype, -1, 1, b, n, h, d);
    }

    /** Skips the calling test class, printing why, unless the GPU is compute capability 9.0. */
    static void requireHopper(String test, String kernel) {
        int cc = CudaBackend.device(GPU).computeCapability();
        if (cc != 90) {
            System.out.println("[gpu] " + test + " skipped: the device is sm_" + cc + ", the " + kernel
                    + " needs sm_90 (H100/H200)");
        }
        Assumptions.assumeTrue(cc == 90, () -> "device is sm_" + cc + ", not sm_90");
    }
}
