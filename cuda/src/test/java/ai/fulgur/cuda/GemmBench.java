package ai.fulgur.cuda;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.random.Rng;
import java.time.LocalDate;

/**
 * GEMM throughput through Fulgur's cuBLASLt binding: TFLOP/s (2·n³ per product) of square products, median over
 * event-timed repetitions after warm-up, on fresh random inputs (never zeros). Run on the GPU machine from the bundle:
 * {@code fulgur/runtime/bin/java -cp 'fulgur/lib/*:fulgur/tests/*' ai.fulgur.cuda.GemmBench [sizes...]}; the PyTorch
 * baseline is tools/bench/torch_gemm.py in the same call. Prints one JSON object per line.
 */
public final class GemmBench {
    private GemmBench() {}

    public static void main(String[] args) {
        int[] sizes = args.length > 0 ? java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray()
                : new int[] {4096, 8192};
        Device gpu = Device.cuda(0);
        CudaDevice device = CudaBackend.device(gpu);
        for (DType dtype : new DType[] {DType.BF16, DType.F16, DType.F32}) {
            for (int n : sizes) {
                Tensor a = Rng.uniform(Shape.of(1, n, n), DType.F32, Device.CPU, 1, 0, -1, 1).cast(dtype).to(gpu);
                Tensor b = Rng.uniform(Shape.of(1, n, n), DType.F32, Device.CPU, 2, 0, -1, 1).cast(dtype).to(gpu);
                Tensor c = Tensor.zeros(Shape.of(1, n, n), dtype, gpu);
                double ms = device.medianMillis(
                        () -> Backends.of(gpu).linalg().matmul(c, a, b, false, false, 1, false), 10, 50);
                double tflops = 2.0 * n * n * n / (ms * 1e-3) / 1e12;
                System.out.printf("{\"name\": \"gemm_%s\", \"parameters\": {\"n\": %d}, \"value\": %.1f, "
                        + "\"unit\": \"TFLOP/s\", \"ms\": %.4f, \"card\": \"%s\", \"date\": \"%s\"}%n",
                        dtype.name().toLowerCase(), n, tflops, ms, device.name(), LocalDate.now());
            }
        }
    }
}
