package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.random.Rng;
import java.time.LocalDate;
import java.util.Locale;

/**
 * GPT-2's three vocabulary-head GEMMs (B·T = 8192 rows, V = 50257, C = 768, BF16) through cuBLASLt, each in four
 * layouts: the logits (or their gradient) with rows of 50257 elements (misaligned: what main ran before padding),
 * the same m, n, k with a row pitch of 50264 (row-pitched operands, one GEMM), the problem zero-padded to 50264 (main's
 * padded copies' GEMM), and the row-pitched operands through {@code CudaLinalg.matmul} (this work: an aligned body of
 * 50256 and a tail of 1, two GEMMs, no copy). Answers whether cuBLASLt picks its fast kernels from aligned leading
 * dimensions alone, with m, n or k odd, and what the split costs.
 *
 * <pre>
 *   forward  NT: logits (8192, V) = x (8192, 768) · wteᵀ           ldd = V | 50264, or n = 50264
 *   dx       NN: dx (8192, 768) = dlogits (8192, V) · wte (V, 768)  lda = V | 50264, or k = 50264
 *   dwte     TN: dwte (V, 768) = dlogitsᵀ · x (8192, 768)           lda = V | 50264, or m = 50264
 * </pre>
 *
 * Timing as {@link GemmBench}: inputs uniform in [-1, 1), {@value GemmBench#WARMUP} untimed calls, then samples of
 * {@value GemmBench#CALLS} back-to-back calls between CUDA events; the median sample with the 10th and 90th
 * percentiles. Run from the bundle: {@code java -cp 'fulgur/lib/*:fulgur/tests/*' ai.fulgur.cuda.PitchedGemmBench
 * [--samples N]}. Prints one JSON object per line, then one line per cuBLASLt plan (how its algorithm was chosen).
 */
public final class PitchedGemmBench {
    private static final long ROWS = 8192;
    private static final long V = 50257;
    private static final long VP = 50264;
    private static final long C = 768;

    private PitchedGemmBench() {}

    public static void main(String[] args) {
        int samples = 30;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--samples")) {
                samples = Integer.parseInt(args[++i]);
            } else {
                throw new IllegalArgumentException("PitchedGemmBench takes --samples N, got '" + args[i] + "'");
            }
        }
        Device gpu = Device.cuda(0);
        CudaDevice device = CudaBackend.device(gpu);
        DType t = DType.BF16;
        // one buffer per operand, big enough for the padded layout; the others view a prefix of it
        Tensor x = Rng.uniform(Shape.of(ROWS, C), DType.F32, gpu, 1, 0, -1, 1).cast(t);
        Tensor w = Rng.uniform(Shape.of(VP, C), DType.F32, gpu, 2, 0, -1, 1).cast(t);
        Tensor g = Rng.uniform(Shape.of(ROWS, VP), DType.F32, gpu, 3, 0, -1, 1).cast(t);
        Tensor logits = Tensor.empty(Shape.of(ROWS, VP), t, gpu);
        Tensor dx = Tensor.empty(Shape.of(ROWS, C), t, gpu);
        Tensor dw = Tensor.empty(Shape.of(VP, C), t, gpu);
        try (CudaStorage workspace = new CudaStorage(device, DType.U8, CublasLt.WORKSPACE_BYTES)) {
            long ws = workspace.address(0);
            CublasLt lt = CublasLt.get();
            String[] layouts = {"unpadded rows (ld 50257)", "row-pitched (ld 50264)", "zero-padded (50264)",
                "row-pitched, body + tail"};
            for (int layout = 0; layout < 3; layout++) {
                long ld = layout == 0 ? V : VP;   // the logits' (gradient's) row stride
                long v = layout == 2 ? VP : V;    // the vocabulary size the GEMM sees
                int lay = layout;
                report("forward NT", layouts[lay], ROWS, v, C, GemmBench.samples(device, () -> lt.matmul(device, t, 1,
                        ROWS, v, C, m(x, C), false, m(w, C), true, m(logits, ld), 1f, 0f, 0,
                        CublasLt.EPILOGUE_DEFAULT, ws), samples), device);
                report("dx NN", layouts[lay], ROWS, C, v, GemmBench.samples(device, () -> lt.matmul(device, t, 1,
                        ROWS, C, v, m(g, ld), false, m(w, C), false, m(dx, C), 1f, 0f, 0,
                        CublasLt.EPILOGUE_DEFAULT, ws), samples), device);
                report("dwte TN", layouts[lay], v, C, ROWS, GemmBench.samples(device, () -> lt.matmul(device, t, 1,
                        v, C, ROWS, m(g, ld), true, m(x, C), false, m(dw, C), 1f, 0f, 0,
                        CublasLt.EPILOGUE_DEFAULT, ws), samples), device);
            }
            // this work's path: the row-pitched views through the backend (split into an aligned body and a tail)
            var linalg = ai.fulgur.ops.Backends.of(gpu).linalg();
            Tensor x3 = x.reshape(1, ROWS, C);
            Tensor w3 = view3(w, V, C, C);
            Tensor logits3 = view3(logits, ROWS, V, VP);
            Tensor g3 = view3(g, ROWS, V, VP);
            Tensor dx3 = dx.reshape(1, ROWS, C);
            Tensor dw3 = view3(dw, V, C, C);
            report("forward NT", layouts[3], ROWS, V, C, GemmBench.samples(device,
                    () -> linalg.matmul(logits3, x3, w3, false, true, 1, false), samples), device);
            report("dx NN", layouts[3], ROWS, C, V, GemmBench.samples(device,
                    () -> linalg.matmul(dx3, g3, w3, false, false, 1, false), samples), device);
            report("dwte TN", layouts[3], V, C, ROWS, GemmBench.samples(device,
                    () -> linalg.matmul(dw3, g3, x3, true, false, 1, false), samples), device);
            for (String plan : lt.planReports()) {
                System.out.printf("{\"engine\": \"fulgur\", \"name\": \"cublaslt_plan\", \"plan\": \"%s\"}%n", plan);
            }
        }
    }

    /** The leading (1, rows, cols) block of a buffer whose rows are ld elements apart. */
    private static Tensor view3(Tensor t, long rows, long cols, long ld) {
        return new Tensor(t.storage(), Shape.of(1, rows, cols), new long[] {rows * ld, ld, 1}, t.offset());
    }

    private static CublasLt.Matrix m(Tensor t, long ld) {
        return new CublasLt.Matrix(CudaTensors.first(t), ld, 0);
    }

    private static void report(String gemm, String layout, long m, long n, long k, double[] ms, CudaDevice device) {
        double median = ms[ms.length / 2];
        System.out.printf(Locale.ROOT, "{\"engine\": \"fulgur\", \"name\": \"gpt2_head_gemm\", \"gemm\": \"%s\", "
                + "\"layout\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"ms\": %.4f, \"ms_p10\": %.4f, "
                + "\"ms_p90\": %.4f, \"tflops\": %.1f, \"samples\": %d, \"calls_per_sample\": %d, \"card\": \"%s\", "
                + "\"date\": \"%s\"}%n", gemm, layout, m, n, k, median, ms[ms.length / 10], ms[ms.length * 9 / 10],
                2.0 * m * n * k / (median * 1e-3) / 1e12, ms.length, GemmBench.CALLS, device.name(), LocalDate.now());
    }
}
