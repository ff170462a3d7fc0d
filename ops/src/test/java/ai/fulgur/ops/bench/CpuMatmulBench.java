package ai.fulgur.ops.bench;

import static ai.fulgur.ops.bench.BenchSupport.quote;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.cpu.CpuMatmul;
import ai.fulgur.ops.cpu.CpuParallel;
import ai.fulgur.ops.cpu.CpuStorage;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Square F32 matrix products, out (n, n) = a (n, n) · b (n, n), on the CPU: Fulgur's {@link CpuMatmul} against
 * PyTorch's CPU matmul through DJL's PyTorch engine, in the same process, both on one thread per core.
 *
 * <p>Run it (from the repository root) with
 * <pre>
 * export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
 * mvn -q -pl ops test-compile exec:exec@cpu-matmul-bench
 * </pre>
 * The {@code cpu-matmul-bench} execution in {@code ops/pom.xml} starts a fresh JVM with {@code --add-modules
 * jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true} and the test class path, in the
 * repository root. {@code exec:java} does not work: it runs inside Maven's JVM, where the Vector API module is not
 * loaded, so the F32 kernel would fall back to its scalar micro-kernel (this class then stops with that message). Run
 * directly, the first argument is the JSON output path (default {@code docs/perf/cpu_matmul.json}); {@code
 * --no-scalar} skips the scalar-kernel column.
 *
 * <p>For each n: both engines warm up, then rounds of timed repetitions alternate between them in blocks (so a burst of
 * load from other processes hits both), and the median time gives GFLOP/s = 2·n³ / time. Fulgur writes into a preallocated output;
 * PyTorch allocates its result, as {@code torch.matmul} does. The two results are compared once as a check. The
 * table goes to stdout, one JSON object per n to the output file.
 */
public final class CpuMatmulBench {
    /** The command documented above, recorded in the JSON when the Maven execution launched us. */
    static final String MAVEN_COMMAND = "export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64; "
            + "mvn -q -pl ops test-compile exec:exec@cpu-matmul-bench";
    static final int[] SIZES = {512, 1024, 2048};

    private CpuMatmulBench() {}

    public static void main(String[] args) throws IOException {
        // Before CpuParallel's pool or DJL start: one worker per core for both engines, DJL offline.
        int threads = Runtime.getRuntime().availableProcessors();
        BenchSupport.setIfAbsent("fulgur.cpu.threads", Integer.toString(threads));
        BenchSupport.setIfAbsent("ai.djl.pytorch.num_threads", Integer.toString(threads));
        System.setProperty("ai.djl.offline", "true");

        boolean withScalar = !Arrays.asList(args).contains("--no-scalar");
        Path outPath = Path.of(Arrays.stream(args).filter(a -> !a.startsWith("--")).findFirst()
                .orElse("docs/perf/cpu_matmul.json"));

        CpuMatmul fulgur = new CpuMatmul();
        if (!fulgur.usesVectorKernel()) {
            throw new IllegalStateException("jdk.incubator.vector is not loaded, so CpuMatmul would run its scalar "
                    + "micro-kernel; run with --add-modules jdk.incubator.vector (" + MAVEN_COMMAND + ")");
        }
        CpuMatmul scalar = withScalar ? scalarKernel() : null;
        Engine engine = Engine.getEngine("PyTorch");
        String baselineName = "pytorch-" + engine.getVersion() + "-cpu via DJL " + Engine.getDjlVersion();
        int fulgurThreads = CpuParallel.threads();
        int torchThreads = JniUtils.getNumThreads();
        String machine = BenchSupport.machine();
        String date = LocalDate.now().toString();
        String command = command(args);

        System.out.printf(Locale.ROOT, "machine: %s; threads: Fulgur %d, PyTorch %d; baseline: %s%n", machine,
                fulgurThreads, torchThreads, baselineName);
        System.out.printf(Locale.ROOT, "%6s %16s %16s %8s %22s %12s%n", "n", "Fulgur GFLOP/s", "PyTorch GFLOP/s",
                "ratio", "Fulgur scalar GFLOP/s", "max rel diff");

        List<String> rows = new ArrayList<>();
        try (NDManager manager = NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch")) {
            for (int n : SIZES) {
                Result r = measure(n, fulgur, scalar, manager);
                double ratio = r.fulgur / r.torch;
                System.out.printf(Locale.ROOT, "%6d %16.1f %16.1f %8.2f %22s %12.2e%n", n, r.fulgur, r.torch, ratio,
                        Double.isNaN(r.scalar) ? "-" : String.format(Locale.ROOT, "%.1f", r.scalar), r.maxDiff);
                rows.add(jsonRow(n, fulgurThreads, r.fulgur, baselineName, r.torch, ratio, machine, date, command));
            }
        }
        Path parent = outPath.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(outPath, "[\n  " + String.join(",\n  ", rows) + "\n]\n");
        System.out.println("wrote " + outPath.toAbsolutePath().normalize());
    }

    /** GFLOP/s medians for one size, and the largest |Fulgur − PyTorch| relative to the largest |PyTorch| element. */
    private record Result(double fulgur, double torch, double scalar, double maxDiff) {}

    private static Result measure(int n, CpuMatmul fulgur, CpuMatmul scalar, NDManager manager) {
        Random rng = new Random(n);
        float[] a = new float[n * n];
        float[] b = new float[n * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = rng.nextFloat() * 2 - 1;
            b[i] = rng.nextFloat() * 2 - 1;
        }
        // ours: out (1, n, n) = a (1, n, n) · b (1, n, n), the kernel's 3-D batch layout
        Tensor ta = new Tensor(CpuStorage.wrap(a), Shape.of(1, n, n));
        Tensor tb = new Tensor(CpuStorage.wrap(b), Shape.of(1, n, n));
        float[] c = new float[n * n];
        Tensor tc = new Tensor(CpuStorage.wrap(c), Shape.of(1, n, n));
        NDArray pa = manager.create(a, new ai.djl.ndarray.types.Shape(n, n));
        NDArray pb = manager.create(b, new ai.djl.ndarray.types.Shape(n, n));

        double flops = 2.0 * n * n * n;
        // about half a second per engine at 100 GFLOP/s, never fewer than 7 timed repetitions
        int reps = (int) Math.max(7, Math.min(101, 5e10 / flops));
        int warmups = Math.max(3, reps / 2);

        Runnable ours = () -> fulgur.matmul(tc, ta, tb, false, false, 1.0, false);
        Runnable theirs = () -> pa.matMul(pb).close();
        for (int i = 0; i < warmups; i++) {
            ours.run();
            theirs.run();
        }
        double maxDiff;
        try (NDArray reference = pa.matMul(pb)) {
            maxDiff = BenchSupport.relativeMaxDiff(reference.toFloatArray(), c);
        }
        // Rounds of one block per engine. The first call of each block is not timed: the other engine's idle workers
        // (PyTorch's OpenMP threads, our fork-join workers) spin for a while after its last call and would steal the
        // cores from it. Alternating blocks spreads bursts of outside load over both engines.
        int block = Math.max(2, reps / 5);
        int rounds = (reps + block - 1) / block;
        double[] oursSeconds = new double[rounds * block];
        double[] theirsSeconds = new double[rounds * block];
        for (int r = 0; r < rounds; r++) {
            ours.run();
            for (int i = 0; i < block; i++) {
                oursSeconds[r * block + i] = seconds(ours);
            }
            theirs.run();
            for (int i = 0; i < block; i++) {
                theirsSeconds[r * block + i] = seconds(theirs);
            }
        }
        double scalarRate = Double.NaN;
        if (scalar != null) {
            Runnable slow = () -> scalar.matmul(tc, ta, tb, false, false, 1.0, false);
            int slowReps = Math.max(3, reps / 4);
            for (int i = 0; i < 2; i++) {
                slow.run();
            }
            double[] slowSeconds = new double[slowReps];
            for (int i = 0; i < slowReps; i++) {
                slowSeconds[i] = seconds(slow);
            }
            scalarRate = flops / BenchSupport.median(slowSeconds) / 1e9;
        }
        pa.close();
        pb.close();
        return new Result(flops / BenchSupport.median(oursSeconds) / 1e9, flops / BenchSupport.median(theirsSeconds) / 1e9, scalarRate, maxDiff);
    }

    private static double seconds(Runnable r) {
        long start = System.nanoTime();
        r.run();
        return (System.nanoTime() - start) / 1e9;
    }

    private static CpuMatmul scalarKernel() {
        System.setProperty(CpuMatmul.F32_KERNEL_PROPERTY, "scalar");
        try {
            return new CpuMatmul();
        } finally {
            System.clearProperty(CpuMatmul.F32_KERNEL_PROPERTY);
        }
    }

    /** The Maven command when launched by the pom's execution, else this JVM's own command line minus the class path. */
    private static String command(String[] args) {
        if (System.getProperty("fulgur.bench.launcher") != null) {
            return MAVEN_COMMAND;
        }
        List<String> parts = new ArrayList<>();
        parts.add("java");
        parts.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        parts.add("-cp <test class path>");
        parts.add(CpuMatmulBench.class.getName());
        parts.addAll(Arrays.asList(args));
        return String.join(" ", parts);
    }

    private static String jsonRow(int n, int threads, double value, String baselineName, double baseline, double ratio,
            String machine, String date, String command) {
        return String.format(Locale.ROOT, "{\"name\": \"cpu_matmul_f32\", \"parameters\": {\"n\": %d, \"threads\": %d}, "
                + "\"value\": %.2f, \"unit\": \"GFLOP/s\", \"baseline_name\": %s, \"baseline_value\": %.2f, "
                + "\"ratio\": %.3f, \"machine\": %s, \"card\": \"none (CPU)\", \"date\": \"%s\", \"command\": %s}",
                n, threads, value, quote(baselineName), baseline, ratio, quote(machine), date, quote(command));
    }
}
