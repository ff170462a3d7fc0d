package ai.fulgur.cuda;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.random.Rng;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * GEMM throughput through Fulgur's cuBLASLt binding: TFLOP/s (2·n³ per product) of square products C = A·B, row-major,
 * output in the input dtype, F32 accumulation (F32 inputs: exact F32, no TF32).
 *
 * <p>Methodology, identical in tools/bench/torch_gemm.py (its PyTorch baseline) so the two can be compared:
 * inputs uniform in [-1, 1) (never zeros), generated once per shape; {@value #WARMUP} untimed calls; then
 * {@code --samples} (default {@value #SAMPLES}) samples, each {@value #CALLS} back-to-back calls between two CUDA
 * events on the stream (the host's launch work overlaps the device's, as in training); a sample's value is its time
 * divided by the calls; the statistic is the median sample, with the 10th and 90th percentiles beside it. No L2 flush
 * between calls, in either script (the same operands stay partly in L2 for both).
 *
 * <p>Run on the GPU machine from the bundle:
 * {@code fulgur/runtime/bin/java -cp 'fulgur/lib/*:fulgur/tests/*' ai.fulgur.cuda.GemmBench [--dtypes bf16,f16,f32]
 * [--samples N] [--round R] [sizes...]}; tools/bench/gemm_compare.sh alternates it with the PyTorch script. Prints one
 * JSON object per line, then one line per cuBLASLt plan saying how its algorithm was chosen.
 */
public final class GemmBench {
    static final int WARMUP = 20;
    static final int SAMPLES = 50;
    static final int CALLS = 10;

    private GemmBench() {}

    public static void main(String[] args) {
        List<Integer> sizes = new ArrayList<>();
        List<DType> dtypes = new ArrayList<>(List.of(DType.BF16, DType.F16, DType.F32));
        int samples = SAMPLES;
        int round = 0;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--dtypes" -> dtypes = Arrays.stream(args[++i].split(",")).map(GemmBench::dtype).toList();
                case "--samples" -> samples = Integer.parseInt(args[++i]);
                case "--round" -> round = Integer.parseInt(args[++i]);
                default -> sizes.add(Integer.parseInt(args[i]));
            }
        }
        if (samples < 30) {
            throw new IllegalArgumentException("--samples must be at least 30 for a stable median, got " + samples);
        }
        if (sizes.isEmpty()) {
            sizes = List.of(4096, 8192);
        }
        Device gpu = Device.cuda(0);
        CudaDevice device = CudaBackend.device(gpu);
        for (DType dtype : dtypes) {
            for (int n : sizes) {
                Tensor a = Rng.uniform(Shape.of(1, n, n), DType.F32, Device.CPU, 1, 0, -1, 1).cast(dtype).to(gpu);
                Tensor b = Rng.uniform(Shape.of(1, n, n), DType.F32, Device.CPU, 2, 0, -1, 1).cast(dtype).to(gpu);
                Tensor c = Tensor.zeros(Shape.of(1, n, n), dtype, gpu);
                Runnable call = () -> Backends.of(gpu).linalg().matmul(c, a, b, false, false, 1, false);
                double[] ms = samples(device, call, samples);
                double median = ms[ms.length / 2];
                System.out.printf(Locale.ROOT, "{\"engine\": \"fulgur\", \"name\": \"gemm_%s\", \"dtype\": \"%s\", "
                        + "\"n\": %d, \"value\": %.1f, \"unit\": \"TFLOP/s\", \"ms\": %.5f, \"ms_p10\": %.5f, "
                        + "\"ms_p90\": %.5f, \"samples\": %d, \"calls_per_sample\": %d, \"warmup\": %d, \"round\": %d, "
                        + "\"workspace_bytes\": %d, \"autotune\": %s, \"card\": \"%s\", \"date\": \"%s\"}%n",
                        name(dtype), name(dtype), n, tflops(n, median), median, ms[ms.length / 10],
                        ms[ms.length * 9 / 10], samples, CALLS, WARMUP, round, CublasLt.WORKSPACE_BYTES,
                        !"false".equals(System.getProperty("fulgur.cublaslt.autotune")), device.name(),
                        LocalDate.now());
                a.storage().close();
                b.storage().close();
                c.storage().close();
            }
        }
        for (String plan : CublasLt.get().planReports()) {
            System.out.printf("{\"engine\": \"fulgur\", \"name\": \"cublaslt_plan\", \"plan\": \"%s\"}%n", plan);
        }
    }

    /**
     * The sorted per-call milliseconds of {@code samples} samples: {@value #WARMUP} untimed calls, then each sample
     * {@value #CALLS} back-to-back calls between two events on the device's stream.
     */
    static double[] samples(CudaDevice device, Runnable call, int samples) {
        device.enter();
        for (int i = 0; i < WARMUP; i++) {
            call.run();
        }
        jcuda.driver.CUevent start = new jcuda.driver.CUevent();
        jcuda.driver.CUevent end = new jcuda.driver.CUevent();
        jcuda.driver.JCudaDriver.cuEventCreate(start, 0);
        jcuda.driver.JCudaDriver.cuEventCreate(end, 0);
        double[] ms = new double[samples];
        float[] elapsed = {0};
        for (int s = 0; s < samples; s++) {
            jcuda.driver.JCudaDriver.cuEventRecord(start, device.stream());
            for (int c = 0; c < CALLS; c++) {
                call.run();
            }
            jcuda.driver.JCudaDriver.cuEventRecord(end, device.stream());
            jcuda.driver.JCudaDriver.cuEventSynchronize(end);
            jcuda.driver.JCudaDriver.cuEventElapsedTime(elapsed, start, end);
            ms[s] = elapsed[0] / CALLS;
        }
        jcuda.driver.JCudaDriver.cuEventDestroy(start);
        jcuda.driver.JCudaDriver.cuEventDestroy(end);
        Arrays.sort(ms);
        return ms;
    }

    private static double tflops(int n, double ms) {
        return 2.0 * n * n * n / (ms * 1e-3) / 1e12;
    }

    private static String name(DType dtype) {
        return dtype.name().toLowerCase(Locale.ROOT);
    }

    private static DType dtype(String name) {
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "bf16" -> DType.BF16;
            case "f16" -> DType.F16;
            case "f32" -> DType.F32;
            default -> throw new IllegalArgumentException("--dtypes takes bf16, f16 and f32, got '" + name + "'");
        };
    }
}
