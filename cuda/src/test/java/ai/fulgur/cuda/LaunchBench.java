package ai.fulgur.cuda;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;

/**
 * Host cost of one kernel launch through Fulgur's launch path, for both ways of passing arguments (one JCuda pointer
 * per argument, or one packed buffer): 20,000 launches of a one-element fill (five arguments, one of them the
 * 368-byte StridedLayout struct), then a synchronise; microseconds per launch. Run from the bundle like
 * {@link GemmBench}.
 */
public final class LaunchBench {
    private LaunchBench() {}

    public static void main(String[] args) {
        Device gpu = Device.cuda(0);
        CudaDevice device = CudaBackend.device(gpu);
        Tensor t = Tensor.zeros(Shape.of(1), DType.F32, gpu);
        for (boolean packed : new boolean[] {false, true, false, true}) {
            CudaDevice.usePackedArguments(packed);
            int n = 20_000;
            for (int i = 0; i < 2000; i++) {
                Backends.of(gpu).elementwise().fill(t, i);
            }
            device.synchronize();
            long start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                Backends.of(gpu).elementwise().fill(t, i);
            }
            device.synchronize();
            double us = (System.nanoTime() - start) / 1e3 / n;
            System.out.printf("{\"name\": \"launch_overhead\", \"parameters\": {\"arguments\": \"%s\"}, "
                    + "\"value\": %.2f, \"unit\": \"us/launch\", \"card\": \"%s\"}%n", packed ? "packed" : "params",
                    us, device.name());
        }
        CudaDevice.usePackedArguments(true);
    }
}
