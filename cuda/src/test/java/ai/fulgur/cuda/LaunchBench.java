package ai.fulgur.cuda;

import ai.fulgur.ops.Backend;
import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;

/**
 * Host cost of one kernel launch through Fulgur's launch path, for each way of reaching the driver
 * ({@link CudaDevice.LaunchPath}: java.lang.foreign, JCuda with packed arguments, JCuda with one pointer per argument):
 * 20,000 launches of a one-element fill (five arguments, one of them the 368-byte StridedLayout struct), then a
 * synchronise; microseconds per launch.
 *
 * <p>Then, per path, whether a short memory-bound op is host- or device-bound: bf16 layer norm forward at 16384 × 768
 * (GPT-2 124M's activations at 16 × 1024 tokens), and its backward. {@code host_us}: the host's time per call for 200 calls issued
 * without waiting (the queue holds them all, so the device's speed does not enter); {@code device_us}: the event-timed
 * time per call of back-to-back calls ({@link CudaDevice#medianMillis}). A call is host-bound where host_us exceeds
 * the kernel's own time. Run from the bundle like {@link GemmBench}.
 */
public final class LaunchBench {
    private LaunchBench() {}

    public static void main(String[] args) {
        Device gpu = Device.cuda(0);
        CudaDevice device = CudaBackend.device(gpu);
        Backend b = Backends.of(gpu);
        Tensor t = Tensor.zeros(Shape.of(1), DType.F32, gpu);
        int rows = 16384;
        int c = 768;
        Tensor x = Tensor.zeros(Shape.of(rows, c), DType.BF16, gpu);
        b.random().uniform(x, 7, 0, -1, 1);
        Tensor y = Tensor.zeros(Shape.of(rows, c), DType.BF16, gpu);
        Tensor gamma = Tensor.zeros(Shape.of(c), DType.BF16, gpu);
        b.elementwise().fill(gamma, 1);
        Tensor beta = Tensor.zeros(Shape.of(c), DType.BF16, gpu);
        Tensor mean = Tensor.zeros(Shape.of(rows), DType.F32, gpu);
        Tensor rstd = Tensor.zeros(Shape.of(rows), DType.F32, gpu);
        Runnable layerNorm = () -> b.norm().layerNormForward(y, mean, rstd, x, gamma, beta, 1e-5);
        Tensor dx = Tensor.zeros(Shape.of(rows, c), DType.BF16, gpu);
        Tensor dgamma = Tensor.zeros(Shape.of(c), DType.BF16, gpu);
        Tensor dbeta = Tensor.zeros(Shape.of(c), DType.BF16, gpu);
        layerNorm.run();
        Runnable layerNormBackward = () -> b.norm().layerNormBackward(dx, dgamma, dbeta, y, x, mean, rstd, gamma);
        CudaDevice.LaunchPath[] paths = DriverLaunch.available()
                ? new CudaDevice.LaunchPath[] {CudaDevice.LaunchPath.JCUDA_PARAMS, CudaDevice.LaunchPath.JCUDA_PACKED,
                    CudaDevice.LaunchPath.FOREIGN, CudaDevice.LaunchPath.JCUDA_PACKED, CudaDevice.LaunchPath.FOREIGN}
                : new CudaDevice.LaunchPath[] {CudaDevice.LaunchPath.JCUDA_PARAMS, CudaDevice.LaunchPath.JCUDA_PACKED};
        for (CudaDevice.LaunchPath path : paths) {
            CudaDevice.useLaunchPath(path);
            int n = 20_000;
            for (int i = 0; i < 2000; i++) {
                b.elementwise().fill(t, i);
            }
            device.synchronize();
            long start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                b.elementwise().fill(t, i);
            }
            device.synchronize();
            double us = (System.nanoTime() - start) / 1e3 / n;
            System.out.printf("{\"name\": \"launch_overhead\", \"parameters\": {\"path\": \"%s\"}, "
                    + "\"value\": %.2f, \"unit\": \"us/launch\", \"card\": \"%s\"}%n", path, us, device.name());

            for (String pass : new String[] {"forward", "backward"}) {
                Runnable op = pass.equals("forward") ? layerNorm : layerNormBackward;
                double hostUs = hostMicrosPerCall(device, op, 200);
                double deviceUs = 1e3 * device.medianMillis(op, 20, 50);
                System.out.printf("{\"name\": \"layernorm_%s_bf16_call\", \"parameters\": {\"path\": \"%s\", "
                        + "\"rows\": %d, \"C\": %d}, \"host_us\": %.2f, \"device_us\": %.2f, \"card\": \"%s\"}%n",
                        pass, path, rows, c, hostUs, deviceUs, device.name());
            }
        }
        CudaDevice.useLaunchPath(CudaDevice.defaultLaunchPath(System.getProperty("fulgur.cuda.launch")));
    }

    /** Median over 9 samples of the host's microseconds per call for {@code calls} calls issued without waiting. */
    static double hostMicrosPerCall(CudaDevice device, Runnable work, int calls) {
        double[] samples = new double[9];
        for (int s = -3; s < samples.length; s++) { // three warm-up samples
            device.synchronize();
            long start = System.nanoTime();
            for (int i = 0; i < calls; i++) {
                work.run();
            }
            long ns = System.nanoTime() - start;
            if (s >= 0) {
                samples[s] = ns / 1e3 / calls;
            }
        }
        device.synchronize();
        java.util.Arrays.sort(samples);
        return samples[samples.length / 2];
    }
}
