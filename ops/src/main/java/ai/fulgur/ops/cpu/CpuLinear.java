package ai.fulgur.ops.cpu;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.RowPitched;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.activation.GeluForm;
import ai.fulgur.ops.linalg.LinalgKernels;
import ai.fulgur.ops.linalg.LinearEpilogue;

/**
 * The CPU reference of {@link LinalgKernels#linear}: x·Wᵀ through {@link CpuMatmul} into an accumulator of the
 * accumulation type (the output itself for F32 and F64, an F32 buffer for BF16 and F16), then one pass that adds the
 * bias and applies the tanh GELU in that type and rounds once to the output, as cuBLASLt's epilogues do.
 *
 * <p>For F32 without GELU this is bit for bit the matmul followed by an F32 add; for BF16/F16 it rounds once where
 * matmul-then-add rounds twice.
 */
final class CpuLinear {
    private static final int ROW_GRAIN = 16;

    private CpuLinear() {}

    // out (M, N), row stride ≥ N; x (M, K); weight (N, K); bias (N) or null; preActivation (M, N) or null
    static void linear(CpuMatmul matmul, Tensor out, Tensor x, Tensor weight, Tensor bias, LinearEpilogue epilogue,
            Tensor preActivation) {
        long m = out.shape().dim(0);
        long n = out.shape().dim(1);
        long k = x.shape().dim(1);
        boolean half = out.dtype().isHalf();
        Tensor acc = half ? Tensor.zeros(Shape.of(m, n), DType.F32, Device.CPU) : out;
        Tensor x3 = (half ? x.cast(DType.F32) : x).reshape(1, m, k);
        Tensor w3 = (half ? weight.cast(DType.F32) : weight).reshape(1, n, k);
        int ldAcc = Math.toIntExact(RowPitched.pitch(acc));
        int ldOut = Math.toIntExact(RowPitched.pitch(out));
        // a (1, M, N) view of acc keeping its row stride (out may be row-pitched; reshape would copy it)
        Tensor acc3 = new Tensor(acc.storage(), Shape.of(1, m, n), new long[] {m * ldAcc, ldAcc, 1}, acc.offset());
        matmul.matmul(acc3, x3, w3, false, true, 1, false);
        if (epilogue == LinearEpilogue.NONE && !half) {
            return;
        }
        boolean f64 = out.dtype() == DType.F64;
        CpuStorage a = acc.cpu();
        CpuStorage o = out.cpu();
        CpuStorage b = bias == null ? null : bias.cpu();
        CpuStorage pre = preActivation == null ? null : preActivation.cpu();
        int aOff = Math.toIntExact(acc.offset());
        int oOff = Math.toIntExact(out.offset());
        int bOff = bias == null ? 0 : Math.toIntExact(bias.offset());
        int pOff = preActivation == null ? 0 : Math.toIntExact(preActivation.offset());
        int cols = Math.toIntExact(n);
        boolean addBias = epilogue.hasBias();
        boolean gelu = epilogue.hasGelu();
        CpuParallel.forRange(Math.toIntExact(m), ROW_GRAIN, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                for (int j = 0; j < cols; j++) {
                    int i = r * cols + j;
                    double v = a.get(aOff + r * ldAcc + j);
                    if (addBias) {
                        v += b.get(bOff + j);
                        if (!f64) {
                            v = (float) v; // the add happens in F32, as in the accumulator
                        }
                    }
                    if (pre != null) {
                        pre.set(pOff + i, v);
                    }
                    o.set(oOff + r * ldOut + j, gelu ? CpuActivation.gelu(v, GeluForm.TANH, !f64) : v);
                }
            }
        });
    }
}
