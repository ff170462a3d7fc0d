package ai.fulgur.ops.bench;

import static ai.fulgur.ops.bench.BenchSupport.quote;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.activation.Activation;
import ai.fulgur.ops.attention.Attention;
import ai.fulgur.ops.attention.AttentionSpec;
import ai.fulgur.ops.attention.BlockSparseLayout;
import ai.fulgur.ops.attention.BlockSparsePatterns;
import ai.fulgur.ops.cpu.CpuParallel;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.linalg.Linalg;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * Attention on the CPU, F32, B = 1, H = 4, D = 64: Fulgur's FlashAttention kernels ({@link Attention#flashForward},
 * {@link Attention#flashBackward}) against a naive attention composed from Fulgur's own ops (Linalg.matmul,
 * Activation.softmaxForward, Linalg.matmul; backward by hand from Linalg.matmul and Activation.softmaxBackward, no
 * autograd), and against PyTorch's CPU (DJL's PyTorch engine: matMul, softmax, matMul; backward through a
 * GradientCollector). Both naive paths materialise the B·H·N×N scores. Also: bytes allocated (JVM heap, all threads)
 * by one forward + backward of ours and of the naive ops, and block-sparse flash attention at N = 4096 over random
 * layouts of 64-blocks (density 100 %, 50 %, 25 %, 10 %) and a local + global layout, against dense flash.
 *
 * <p>Run it from the repository root with
 * <pre>
 * export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
 * mvn -q -pl ops test-compile exec:exec -Dexec.executable=$JAVA_HOME/bin/java -Dexec.classpathScope=test \
 *     -Dexec.args="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true \
 *     -Xmx10g -classpath %classpath ai.fulgur.ops.bench.CpuAttentionBench"
 * </pre>
 * (a fresh JVM, as {@code exec:java} would lack the Vector API module; about 10 minutes on 2 cores). An argument
 * not starting with {@code --} is the JSON output path, by default {@code docs/perf/cpu_attention.json} of the
 * repository that holds the working directory; {@code --quick} runs N = 1024 only. Timed repetitions alternate
 * between the implementations, so a burst of load from other processes hits all; the tables give medians, and
 * each table and row carries the 1-minute load average (about 2 with this benchmark alone on 2 cores). Rows: one
 * JSON object per measurement, ratio = Fulgur / baseline (for times, below 1 means Fulgur is faster).
 */
public final class CpuAttentionBench {
    static final int B = 1;
    static final int H = 4;
    static final int D = 64;
    static final int[] SIZES = {1024, 2048, 4096};
    static final int SPARSE_N = 4096;
    static final int SPARSE_BLOCK = 64;

    private CpuAttentionBench() {}

    public static void main(String[] args) throws IOException {
        int threads = Runtime.getRuntime().availableProcessors();
        BenchSupport.setIfAbsent("fulgur.cpu.threads", Integer.toString(threads));
        BenchSupport.setIfAbsent("ai.djl.pytorch.num_threads", Integer.toString(threads));
        System.setProperty("ai.djl.offline", "true");
        boolean quick = Arrays.asList(args).contains("--quick");
        Path outPath = Arrays.stream(args).filter(a -> !a.startsWith("--")).findFirst().map(Path::of)
                .orElseGet(CpuAttentionBench::defaultOutput);

        Engine engine = Engine.getEngine("PyTorch");
        String torchName = "pytorch-" + engine.getVersion() + "-cpu via DJL " + Engine.getDjlVersion()
                + " (matMul, softmax, matMul)";
        String naiveName = "fulgur naive ops (Linalg.matmul, Activation.softmaxForward, Linalg.matmul)";
        Context ctx = new Context(BenchSupport.machine(), LocalDate.now().toString(), command(args), CpuParallel.threads(),
                JniUtils.getNumThreads(), new ArrayList<>());
        System.out.printf(Locale.ROOT, "machine: %s; threads: Fulgur %d, PyTorch %d; B=%d H=%d D=%d F32; PyTorch grad "
                + "mode outside the collector: %b; times in ms (median)%n", ctx.machine, ctx.fulgurThreads,
                ctx.torchThreads, B, H, D, JniUtils.isGradMode());

        try (NDManager manager = NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch")) {
            System.out.printf(Locale.ROOT, "%n%5s %6s | %21s | %21s | %21s | %10s %10s%n", "N", "causal",
                    "Fulgur flash fwd/f+b", "naive ops fwd/f+b", "PyTorch fwd/f+b", "naive diff", "torch diff");
            for (int n : quick ? new int[] {1024} : SIZES) {
                for (boolean causal : new boolean[] {false, true}) {
                    dense(ctx, engine, manager, n, causal, torchName, naiveName);
                }
            }
        }
        sparse(ctx, quick ? 1024 : SPARSE_N);

        Path parent = outPath.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(outPath, "[\n  " + String.join(",\n  ", ctx.rows) + "\n]\n");
        System.out.println("wrote " + outPath.toAbsolutePath().normalize());
    }

    /** What every JSON row repeats. */
    private record Context(String machine, String date, String command, int fulgurThreads, int torchThreads,
            List<String> rows) {}

    // ---------------------------------------------------------------------------------------------------------------
    // dense: flash vs naive ops vs PyTorch

    private static void dense(Context ctx, Engine engine, NDManager manager, int n, boolean causal, String torchName,
            String naiveName) {
        double scale = 1 / Math.sqrt(D);
        SplittableRandom rnd = new SplittableRandom(n * 2L + (causal ? 1 : 0));
        // head-major (B, H, N, D) data for the naive paths; flash gets the same values as contiguous (B, N, H, D)
        float[][] data = new float[4][];
        for (int i = 0; i < 4; i++) {
            data[i] = normal(rnd, B * H * n * D);
        }
        Tensor[] headMajor = new Tensor[4];
        Tensor[] rowMajor = new Tensor[4];
        for (int i = 0; i < 4; i++) {
            headMajor[i] = Tensor.of(data[i], B, H, n, D);
            rowMajor[i] = headMajor[i].transpose(1, 2).contiguous();
        }
        AttentionSpec spec = causal ? AttentionSpec.causal(D) : AttentionSpec.dense(D);
        Tensor mask = causal ? causalMask(n) : null;

        Supplier<Object> flashForward = () -> Attention.flashForward(rowMajor[0], rowMajor[1], rowMajor[2], spec);
        Supplier<Object> flashBoth = () -> {
            Attention.Forward f = Attention.flashForward(rowMajor[0], rowMajor[1], rowMajor[2], spec);
            return Attention.flashBackward(rowMajor[3], rowMajor[0], rowMajor[1], rowMajor[2], f.out(), f.lse(), spec);
        };
        Supplier<Object> naiveForward = () -> naiveForward(headMajor, scale, mask)[1];
        Supplier<Object> naiveBoth = () -> naiveBackward(headMajor, scale, naiveForward(headMajor, scale, mask));

        ai.djl.ndarray.types.Shape shape = new ai.djl.ndarray.types.Shape(B, H, n, D);
        NDArray tq = manager.create(data[0], shape);
        NDArray tk = manager.create(data[1], shape);
        NDArray tv = manager.create(data[2], shape);
        NDArray tdo = manager.create(data[3], shape);
        NDArray tmask = causal ? manager.create(mask.toFloatArray(), new ai.djl.ndarray.types.Shape(n, n)) : null;
        for (NDArray a : new NDArray[] {tq, tk, tv}) {
            a.setRequiresGradient(true);
        }
        Supplier<Object> torchForward = () -> {
            List<NDArray> temps = new ArrayList<>();
            torchAttention(tq, tk, tv, scale, tmask, temps);
            temps.forEach(NDArray::close);
            return null;
        };
        Supplier<Object> torchBoth = () -> {
            List<NDArray> temps = new ArrayList<>();
            try (GradientCollector gc = engine.newGradientCollector()) {
                NDArray o = torchAttention(tq, tk, tv, scale, tmask, temps);
                NDArray target = o.mul(tdo); // ∂(Σ o ∘ dO)/∂o = dO; the collector seeds ones
                temps.add(target);
                gc.backward(target);
            }
            temps.forEach(NDArray::close);
            return null;
        };

        // one check that the three compute the same thing: out and dq against the flash kernels
        Attention.Forward f = Attention.flashForward(rowMajor[0], rowMajor[1], rowMajor[2], spec);
        Attention.Gradients g = Attention.flashBackward(rowMajor[3], rowMajor[0], rowMajor[1], rowMajor[2], f.out(),
                f.lse(), spec);
        float[] flashOut = f.out().transpose(1, 2).contiguous().toFloatArray();
        float[] flashDq = g.dq().transpose(1, 2).contiguous().toFloatArray();
        Tensor[] naive = naiveForward(headMajor, scale, mask);
        Tensor[] naiveGrads = naiveBackward(headMajor, scale, naive);
        double naiveDiff = Math.max(BenchSupport.relativeMaxDiff(flashOut, naive[1].toFloatArray()),
                BenchSupport.relativeMaxDiff(flashDq, naiveGrads[0].toFloatArray()));
        double torchDiff;
        {
            List<NDArray> temps = new ArrayList<>();
            try (GradientCollector gc = engine.newGradientCollector()) {
                NDArray o = torchAttention(tq, tk, tv, scale, tmask, temps);
                NDArray target = o.mul(tdo);
                temps.add(target);
                gc.backward(target);
                torchDiff = Math.max(BenchSupport.relativeMaxDiff(flashOut, o.toFloatArray()), BenchSupport.relativeMaxDiff(flashDq,
                        tq.getGradient().toFloatArray()));
            }
            temps.forEach(NDArray::close);
        }
        if (naiveDiff > 1e-3 || torchDiff > 1e-3) {
            throw new IllegalStateException("results disagree at N=" + n + ": naive ops " + naiveDiff + ", PyTorch "
                    + torchDiff + " (max |diff| / max |flash| of out and dq)");
        }

        int reps = n >= 4096 ? 5 : n >= 2048 ? 7 : 9;
        double[][] fwd = timeAlternating(reps, flashForward, naiveForward, torchForward);
        double[][] both = timeAlternating(reps, flashBoth, naiveBoth, torchBoth);
        long flashBytes = allocatedBy(flashBoth);
        long naiveBytes = allocatedBy(naiveBoth);
        long scoreBytes = 4L * B * H * n * n;

        double[] fwdMs = {BenchSupport.median(fwd[0]), BenchSupport.median(fwd[1]), BenchSupport.median(fwd[2])};
        double[] bothMs = {BenchSupport.median(both[0]), BenchSupport.median(both[1]), BenchSupport.median(both[2])};
        System.out.printf(Locale.ROOT, "%5d %6b | %9.1f / %9.1f | %9.1f / %9.1f | %9.1f / %9.1f | %10.1e %10.1e%n", n,
                causal, fwdMs[0], bothMs[0], fwdMs[1], bothMs[1], fwdMs[2], bothMs[2], naiveDiff, torchDiff);
        System.out.printf(Locale.ROOT, "      allocated by one forward + backward: flash %.1f MiB, naive ops %.1f MiB "
                + "(one B·H·N² F32 score matrix: %.1f MiB); 1-min load average %s%n", flashBytes / 1048576.0,
                naiveBytes / 1048576.0, scoreBytes / 1048576.0, loadAverage());

        String p = String.format(Locale.ROOT, "\"n\": %d, \"b\": %d, \"h\": %d, \"d\": %d, \"causal\": %b, "
                + "\"dtype\": \"F32\", \"threads\": %d, \"load_avg_1min\": %s", n, B, H, D, causal, ctx.fulgurThreads,
                loadAverage());
        String torchP = p + ", \"torch_threads\": " + ctx.torchThreads;
        ctx.rows.add(row(ctx, "cpu_attention_forward_ms", torchP + ", \"impl\": \"fulgur flash\"", fwdMs[0], "ms",
                torchName, fwdMs[2]));
        ctx.rows.add(row(ctx, "cpu_attention_forward_backward_ms", torchP + ", \"impl\": \"fulgur flash\"", bothMs[0],
                "ms", torchName, bothMs[2]));
        ctx.rows.add(row(ctx, "cpu_attention_forward_ms", torchP + ", \"impl\": \"" + naiveName + "\"", fwdMs[1], "ms",
                torchName, fwdMs[2]));
        ctx.rows.add(row(ctx, "cpu_attention_forward_backward_ms", torchP + ", \"impl\": \"" + naiveName + "\"",
                bothMs[1], "ms", torchName, bothMs[2]));
        ctx.rows.add(row(ctx, "cpu_attention_forward_ms", p + ", \"impl\": \"fulgur flash\"", fwdMs[0], "ms",
                naiveName, fwdMs[1]));
        ctx.rows.add(row(ctx, "cpu_attention_forward_backward_ms", p + ", \"impl\": \"fulgur flash\"", bothMs[0], "ms",
                naiveName, bothMs[1]));
        ctx.rows.add(row(ctx, "cpu_attention_allocated_bytes", p + ", \"impl\": \"fulgur flash\", \"what\": "
                + "\"JVM heap bytes allocated by one forward + backward, all threads\", \"n2_score_matrix_bytes\": "
                + scoreBytes, flashBytes, "bytes", naiveName, naiveBytes));

        for (NDArray a : new NDArray[] {tq, tk, tv, tdo, tmask}) {
            if (a != null) {
                a.close();
            }
        }
        System.gc();
    }

    /** [s, o]: o (B, H, N, D) = softmax(q kᵀ · scale + mask) v with Fulgur's ops; returns P as element 0. */
    private static Tensor[] naiveForward(Tensor[] qkvd, double scale, Tensor mask) {
        Tensor s = Elementwise.mulScalar(Linalg.matmul(qkvd[0], qkvd[1].transpose(2, 3)), scale); // (B, H, N, N)
        if (mask != null) {
            s = Elementwise.add(s, mask);
        }
        Tensor p = Activation.softmaxForward(s, -1, false);
        return new Tensor[] {p, Linalg.matmul(p, qkvd[2])};
    }

    /** [dq, dk, dv] by hand: dV = Pᵀ dO, dP = dO Vᵀ, dS = softmax'(dP) · scale, dQ = dS K, dK = dSᵀ Q. */
    private static Tensor[] naiveBackward(Tensor[] qkvd, double scale, Tensor[] forward) {
        Tensor p = forward[0];
        Tensor dout = qkvd[3];
        Tensor dv = Linalg.matmul(p.transpose(2, 3), dout);
        Tensor dp = Linalg.matmul(dout, qkvd[2].transpose(2, 3));
        Tensor ds = Elementwise.mulScalar(Activation.softmaxBackward(p, dp, -1, false), scale);
        return new Tensor[] {Linalg.matmul(ds, qkvd[1]), Linalg.matmul(ds.transpose(2, 3), qkvd[0]), dv};
    }

    /** PyTorch's o = softmax(q kᵀ · scale + mask) v; every array it creates goes to {@code temps}. */
    private static NDArray torchAttention(NDArray q, NDArray k, NDArray v, double scale, NDArray mask,
            List<NDArray> temps) {
        NDArray kt = k.transpose(0, 1, 3, 2);
        NDArray s = q.matMul(kt);
        NDArray scaled = s.mul(scale);
        temps.addAll(List.of(kt, s, scaled));
        if (mask != null) {
            scaled = scaled.add(mask);
            temps.add(scaled);
        }
        NDArray p = scaled.softmax(-1);
        NDArray o = p.matMul(v);
        temps.addAll(List.of(p, o));
        return o;
    }

    /** (N, N): 0 where key j ≤ query i, −∞ above the diagonal. */
    private static Tensor causalMask(int n) {
        float[] m = new float[n * n];
        for (int i = 0; i < n; i++) {
            Arrays.fill(m, i * n + i + 1, (i + 1) * n, Float.NEGATIVE_INFINITY);
        }
        return Tensor.of(m, n, n);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // block-sparse

    private static void sparse(Context ctx, int n) {
        int blocks = BlockSparseLayout.blocksFor(n, SPARSE_BLOCK);
        SplittableRandom rnd = new SplittableRandom(4096);
        Tensor[] t = new Tensor[4];
        for (int i = 0; i < 4; i++) {
            t[i] = Tensor.of(normal(rnd, B * n * H * D), B, n, H, D);
        }
        AttentionSpec dense = AttentionSpec.dense(D);
        List<String> names = new ArrayList<>();
        List<AttentionSpec> specs = new ArrayList<>();
        names.add("dense flash (no layout)");
        specs.add(dense);
        for (double density : new double[] {1.0, 0.5, 0.25, 0.1}) {
            BlockSparseLayout layout = randomLayout(rnd, blocks, density);
            names.add(String.format(Locale.ROOT, "random %.0f%% (%.3f)", density * 100, layout.density()));
            specs.add(dense.withLayout(layout));
        }
        BlockSparseLayout lg = BlockSparsePatterns.localGlobal(SPARSE_BLOCK, blocks, blocks, 2, 1, false);
        names.add(String.format(Locale.ROOT, "localGlobal w2 g1 (%.3f)", lg.density()));
        specs.add(dense.withLayout(lg));

        List<Supplier<Object>> forward = new ArrayList<>();
        List<Supplier<Object>> both = new ArrayList<>();
        for (AttentionSpec spec : specs) {
            forward.add(() -> Attention.flashForward(t[0], t[1], t[2], spec));
            both.add(() -> {
                Attention.Forward f = Attention.flashForward(t[0], t[1], t[2], spec);
                return Attention.flashBackward(t[3], t[0], t[1], t[2], f.out(), f.lse(), spec);
            });
        }
        int reps = 5;
        @SuppressWarnings("unchecked")
        double[][] fwd = timeAlternating(reps, forward.toArray(new Supplier[0]));
        @SuppressWarnings("unchecked")
        double[][] fb = timeAlternating(reps, both.toArray(new Supplier[0]));
        System.out.printf(Locale.ROOT, "%nblock-sparse flash, N=%d, blocks of %d, B=%d H=%d D=%d; 1-min load "
                + "average %s%n", n, SPARSE_BLOCK, B, H, D, loadAverage());
        System.out.printf(Locale.ROOT, "%-28s %10s %10s %12s %12s%n", "layout (density)", "fwd ms", "f+b ms",
                "fwd vs dense", "f+b vs dense");
        double denseFwd = BenchSupport.median(fwd[0]);
        double denseBoth = BenchSupport.median(fb[0]);
        for (int i = 0; i < specs.size(); i++) {
            double mf = BenchSupport.median(fwd[i]);
            double mb = BenchSupport.median(fb[i]);
            System.out.printf(Locale.ROOT, "%-28s %10.1f %10.1f %12.2f %12.2f%n", names.get(i), mf, mb, mf / denseFwd,
                    mb / denseBoth);
            if (i == 0) {
                continue;
            }
            double density = specs.get(i).layout().density();
            String p = String.format(Locale.ROOT, "\"n\": %d, \"b\": %d, \"h\": %d, \"d\": %d, \"block\": %d, "
                    + "\"layout\": \"%s\", \"density\": %.4f, \"dtype\": \"F32\", \"threads\": %d, "
                    + "\"load_avg_1min\": %s", n, B, H, D, SPARSE_BLOCK, names.get(i), density, ctx.fulgurThreads,
                    loadAverage());
            ctx.rows.add(row(ctx, "cpu_block_sparse_attention_forward_ms", p, mf, "ms", "fulgur dense flash",
                    denseFwd));
            ctx.rows.add(row(ctx, "cpu_block_sparse_attention_forward_backward_ms", p, mb, "ms", "fulgur dense flash",
                    denseBoth));
        }
    }

    /** A layout shared by the heads, each block set with probability {@code density}, the diagonal always set. */
    private static BlockSparseLayout randomLayout(SplittableRandom rnd, int blocks, double density) {
        boolean[] mask = new boolean[blocks * blocks];
        for (int i = 0; i < blocks; i++) {
            for (int j = 0; j < blocks; j++) {
                mask[i * blocks + j] = i == j || rnd.nextDouble() < density;
            }
        }
        return new BlockSparseLayout(SPARSE_BLOCK, 1, blocks, blocks, mask);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // timing and helpers

    /** Two warm-up rounds, then {@code reps} rounds running each body once in turn; seconds per body and round. */
    @SafeVarargs
    private static double[][] timeAlternating(int reps, Supplier<Object>... bodies) {
        for (int w = 0; w < 2; w++) {
            for (Supplier<Object> b : bodies) {
                b.get();
            }
        }
        double[][] ms = new double[bodies.length][reps];
        for (int r = 0; r < reps; r++) {
            for (int i = 0; i < bodies.length; i++) {
                long start = System.nanoTime();
                bodies[i].get();
                ms[i][r] = (System.nanoTime() - start) / 1e6;
            }
        }
        return ms;
    }

    /** JVM heap bytes allocated by all threads during one run of {@code body} (run warm). */
    private static long allocatedBy(Supplier<Object> body) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        mx.setThreadAllocatedMemoryEnabled(true);
        long before = mx.getTotalThreadAllocatedBytes();
        body.get();
        return mx.getTotalThreadAllocatedBytes() - before;
    }

    private static float[] normal(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return v;
    }

    /** The 1-minute load average from /proc/loadavg (other processes share this machine), or "null". */
    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+")[0];
        } catch (IOException | RuntimeException e) {
            return "null";
        }
    }

    /** docs/perf/cpu_attention.json of the nearest directory above the working directory with a pom.xml and ops/. */
    private static Path defaultOutput() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("ops")) && Files.exists(p.resolve("pom.xml"))) {
                return p.resolve("docs/perf/cpu_attention.json");
            }
        }
        return Path.of("docs/perf/cpu_attention.json");
    }

    /** The documented Maven command, with this run's arguments. */
    private static String command(String[] args) {
        List<String> jvm = new ArrayList<>(ManagementFactory.getRuntimeMXBean().getInputArguments());
        return "export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64; mvn -q -pl ops test-compile exec:exec "
                + "-Dexec.executable=$JAVA_HOME/bin/java -Dexec.classpathScope=test -Dexec.args=\""
                + String.join(" ", jvm) + " -classpath %classpath " + CpuAttentionBench.class.getName()
                + (args.length > 0 ? " " + String.join(" ", args) : "") + "\"";
    }

    private static String row(Context ctx, String name, String parameters, double value, String unit,
            String baselineName, double baseline) {
        return String.format(Locale.ROOT, "{\"name\": \"%s\", \"parameters\": {%s}, \"value\": %s, \"unit\": \"%s\", "
                + "\"baseline_name\": %s, \"baseline_value\": %s, \"ratio\": %.3f, \"machine\": %s, \"card\": "
                + "\"none (CPU)\", \"date\": \"%s\", \"command\": %s}", name, parameters, number(value), unit,
                quote(baselineName), number(baseline), value / baseline, quote(ctx.machine), ctx.date,
                quote(ctx.command));
    }

    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v)
                : String.format(Locale.ROOT, "%.2f", v);
    }
}
