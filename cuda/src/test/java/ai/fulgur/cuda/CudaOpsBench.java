package ai.fulgur.cuda;

import ai.fulgur.ops.Backend;
import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.activation.GeluForm;
import ai.fulgur.ops.optim.AdamGroup;
import ai.fulgur.ops.optim.AdamParams;
import ai.fulgur.ops.random.Rng;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;

/**
 * Achieved memory bandwidth of the memory-bound CUDA kernels (layer norm, GELU, AdamW, cross-entropy) as a fraction of
 * a device-to-device copy measured in the same run: a 1 GiB copy (the bandwidth ceiling) and, per row, a copy moving
 * the same number of bytes as the kernel (which pays the same launch and tail as a short kernel does). Bytes counted:
 * every input read once and every output written once. Median of event-timed repetitions after warm-up, on random inputs. Run from the bundle like
 * {@link GemmBench}; prints one JSON object per line. With the argument {@code adamw} only the copy ceiling and the
 * AdamW rows run (one tensor of GPT-2 124M's size; its 148 parameter shapes one launch each and in one multi-tensor
 * launch, F32 and BF16 gradients); with {@code layernorm} only the copy ceiling and the layer norm rows.
 */
public final class CudaOpsBench {
    private static final Device GPU = Device.cuda(0);

    private CudaOpsBench() {}

    private static Tensor random(DType dtype, long seed, double lo, double hi, long... shape) {
        return Rng.uniform(Shape.of(shape), DType.F32, Device.CPU, seed, 0, lo, hi).cast(dtype).to(GPU);
    }

    private static void row(CudaDevice device, String name, String params, double ms, double bytes, double copyGbs) {
        row(device, name, params, ms, bytes, copyGbs, copyGbs(device, Backends.of(GPU), (long) bytes));
    }

    private static void row(CudaDevice device, String name, String params, double ms, double bytes, double copyGbs,
            double sameGbs) {
        double gbs = bytes / (ms * 1e-3) / 1e9;
        System.out.printf("{\"name\": \"%s\", \"parameters\": %s, \"value\": %.1f, \"unit\": \"GB/s\", \"ms\": %.4f, "
                + "\"baseline_name\": \"device-to-device copy\", \"baseline_value\": %.1f, \"ratio\": %.3f, "
                + "\"same_bytes_copy_gbs\": %.1f, \"ratio_to_same_bytes_copy\": %.3f, "
                + "\"card\": \"%s\", \"date\": \"%s\"}%n", name, params, gbs, ms, copyGbs, gbs / copyGbs, sameGbs,
                gbs / sameGbs, device.name(), LocalDate.now());
    }

    /**
     * {@link CudaDevice#medianMillis} after a steady-state warm-up: up to 3,000 calls or a quarter of a second, so the op's Java
     * path is JIT-compiled as in a training loop (with ten warm-up calls a 17 µs layer norm was timed at 25 µs: the
     * interpreted host path issued calls more slowly than the GPU ran them).
     */
    private static double millis(CudaDevice device, Runnable work, int warmup, int repeats) {
        long end = System.nanoTime() + 250_000_000L;
        for (int i = 0; i < 3000 && System.nanoTime() < end; i++) {
            work.run();
        }
        device.synchronize();
        return device.medianMillis(work, warmup, repeats);
    }

    /** GB/s (read + write) of a device-to-device copy that moves {@code bytes} in all (half read, half written). */
    private static double copyGbs(CudaDevice device, Backend b, long bytes) {
        return copyGbs(device, b, bytes, false);
    }

    /** {@link #copyGbs}, timed eagerly or ({@code graph}) by {@link #graphMillis}. */
    private static double copyGbs(CudaDevice device, Backend b, long bytes, boolean graph) {
        long n = Math.max(1, bytes / 8); // F32 elements: n·4 read and n·4 written
        Tensor src = Tensor.zeros(Shape.of(n), DType.F32, GPU);
        Tensor dst = Tensor.zeros(Shape.of(n), DType.F32, GPU);
        Runnable copy = () -> b.elementwise().copy(dst, src);
        double ms = graph ? graphMillis(device, copy) : millis(device, copy, 10, 50);
        return 8.0 * n / (ms * 1e-3) / 1e9;
    }

    /** Calls of an op recorded in one CUDA graph by {@link #graphMillis}. */
    private static final int GRAPH_CALLS = 100;

    /**
     * Milliseconds a call of {@code work} takes replayed from a CUDA graph of {@value #GRAPH_CALLS} calls: the device's
     * time without the gaps and host issue of eager launches, as a training step replayed from a graph runs it
     * (Gpt2CudaGraphTest). Eagerly, ten calls a sample, the two-kernel layer norm backward read about 2.8 µs a call
     * slower than its kernels take.
     */
    private static double graphMillis(CudaDevice device, Runnable work) {
        millis(device, work, 10, 1); // warm: JIT, modules, the allocator's blocks
        try (CudaGraph graph = CudaGraph.capture(device, () -> {
            for (int i = 0; i < GRAPH_CALLS; i++) {
                work.run();
            }
        })) {
            return millis(device, graph::replay, 3, 20) / GRAPH_CALLS;
        }
    }

    public static void main(String[] args) {
        String only = args.length > 0 ? args[0] : "all"; // adamw, layernorm or all rows
        CudaDevice device = CudaBackend.device(GPU);
        Backend b = Backends.of(GPU);
        // the ceiling: a large device-to-device copy, bytes read plus bytes written
        long n = 1L << 28; // 1 GiB of F32
        Tensor src = random(DType.F32, 1, -1, 1, n);
        Tensor dst = Tensor.zeros(Shape.of(n), DType.F32, GPU);
        double copyMs = millis(device, () -> b.elementwise().copy(dst, src), 5, 20);
        double copyGbs = 2.0 * n * 4 / (copyMs * 1e-3) / 1e9;
        src.storage().close();
        dst.storage().close();
        System.out.printf("{\"name\": \"d2d_copy\", \"parameters\": {\"bytes\": %d}, \"value\": %.1f, "
                + "\"unit\": \"GB/s\", \"ms\": %.4f, \"card\": \"%s\", \"date\": \"%s\"}%n", n * 4, copyGbs, copyMs,
                device.name(), LocalDate.now());
        if (only.equals("adamw")) {
            adamw(device, b, copyGbs);
            return;
        }

        for (DType dtype : new DType[] {DType.BF16, DType.F32}) {
            int e = dtype.byteSize();
            String dt = dtype.name().toLowerCase();
            // layer norm: GPT-2 124M activations, 16 × 1024 tokens × 768, and 4× that to show the launch cost
            DType stat = dtype.isHalf() ? DType.F32 : dtype;
            for (long rows : new long[] {16 * 1024, 64 * 1024}) {
                long c = 768;
                Tensor x = random(dtype, 2, -2, 2, rows, c);
                Tensor gamma = random(dtype, 3, 0.5, 1.5, c);
                Tensor beta = random(dtype, 4, -0.5, 0.5, c);
                Tensor y = Tensor.zeros(Shape.of(rows, c), dtype, GPU);
                Tensor mean = Tensor.zeros(Shape.of(rows), stat, GPU);
                Tensor rstd = Tensor.zeros(Shape.of(rows), stat, GPU);
                String shape = "{\"rows\": " + rows + ", \"C\": " + c + "}";
                Runnable forward = () -> b.norm().layerNormForward(y, mean, rstd, x, gamma, beta, 1e-5);
                double forwardBytes = 2.0 * rows * c * e + 2.0 * rows * stat.byteSize();
                row(device, "layernorm_forward_" + dt, shape, millis(device, forward, 10, 50), forwardBytes, copyGbs);
                Tensor dy = random(dtype, 5, -1, 1, rows, c);
                Tensor dx = Tensor.zeros(Shape.of(rows, c), dtype, GPU);
                Tensor dgamma = Tensor.zeros(Shape.of(c), dtype, GPU);
                Tensor dbeta = Tensor.zeros(Shape.of(c), dtype, GPU);
                Runnable backward = () -> b.norm().layerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma);
                double backwardBytes = 3.0 * rows * c * e + 2.0 * rows * stat.byteSize();
                row(device, "layernorm_backward_" + dt, shape, millis(device, backward, 10, 50), backwardBytes,
                        copyGbs);
                // the same from CUDA graphs, the copy of the same bytes too (the 1 GiB copy is long enough eagerly)
                row(device, "layernorm_forward_" + dt + "_graph", shape, graphMillis(device, forward), forwardBytes,
                        copyGbs, copyGbs(device, b, (long) forwardBytes, true));
                row(device, "layernorm_backward_" + dt + "_graph", shape, graphMillis(device, backward), backwardBytes,
                        copyGbs, copyGbs(device, b, (long) backwardBytes, true));
            }
            if (only.equals("layernorm")) {
                continue;
            }

            // GELU (tanh form): the MLP activation of GPT-2 124M, 16 × 1024 × 3072
            long g = 16L * 1024 * 3072;
            Tensor gx = random(dtype, 6, -3, 3, g);
            Tensor gy = Tensor.zeros(Shape.of(g), dtype, GPU);
            double ms = millis(device, () -> b.activation().geluForward(gy, gx, GeluForm.TANH), 10, 50);
            row(device, "gelu_forward_" + dt, "{\"n\": " + g + "}", ms, 2.0 * g * e, copyGbs);
            Tensor gdy = random(dtype, 7, -1, 1, g);
            Tensor gdx = Tensor.zeros(Shape.of(g), dtype, GPU);
            ms = millis(device, () -> b.activation().geluBackward(gdx, gx, gdy, GeluForm.TANH), 10, 50);
            row(device, "gelu_backward_" + dt, "{\"n\": " + g + "}", ms, 3.0 * g * e, copyGbs);

            // cross-entropy over the GPT-2 vocabulary: 8 × 1024 tokens × 50257
            long r = 8 * 1024;
            long v = 50257;
            Tensor logits = random(dtype, 8, -4, 4, r, v);
            Tensor targets = Rng.uniform(Shape.of(r), DType.F64, Device.CPU, 9, 0, 0, v).cast(DType.I64).to(GPU);
            Tensor losses = Tensor.zeros(Shape.of(r), stat, GPU);
            Tensor lse = Tensor.zeros(Shape.of(r), stat, GPU);
            ms = millis(device, () -> b.loss().crossEntropyForward(losses, lse, logits, targets, -100), 5, 20);
            row(device, "cross_entropy_forward_" + dt, "{\"rows\": " + r + ", \"V\": " + v + "}", ms,
                    1.0 * r * v * e + 8.0 * r + 2.0 * r * stat.byteSize(), copyGbs);
            Tensor dlosses = random(stat, 10, 0, 1, r);
            Tensor dlogits = Tensor.zeros(Shape.of(r, v), dtype, GPU);
            ms = millis(device, () -> b.loss().crossEntropyBackward(dlogits, dlosses, logits, lse, targets, -100),
                    5, 20);
            row(device, "cross_entropy_backward_" + dt, "{\"rows\": " + r + ", \"V\": " + v + "}", ms,
                    2.0 * r * v * e + 8.0 * r + 2.0 * r * stat.byteSize(), copyGbs);
        }

        // the linear layer with and without cuBLASLt's epilogues: GPT-2 124M's MLP up-projection, 16 × 1024 tokens,
        // 768 → 3072, bf16; fused (bias or bias+GELU in the GEMM) against the GEMM followed by separate passes
        linearEpilogues(device, b);

        if (!only.equals("layernorm")) {
            adamw(device, b, copyGbs);
        }
    }

    /** GPT-2 124M's 148 parameter sizes in model order (tied embeddings) and whether AdamW decays each. */
    static List<long[]> gpt2Parameters() {
        List<long[]> out = new ArrayList<>();
        long c = 768;
        out.add(new long[] {50257 * c, 1}); // wte
        out.add(new long[] {1024 * c, 1}); // wpe
        for (int layer = 0; layer < 12; layer++) {
            long[] sizes = {c, c, c * 3 * c, 3 * c, c * c, c, c, c, c * 4 * c, 4 * c, 4 * c * c, c};
            for (long n : sizes) {
                out.add(new long[] {n, n == c || n == 3 * c || n == 4 * c ? 0 : 1}); // vectors: no decay
            }
        }
        out.add(new long[] {c, 0}); // ln_f
        out.add(new long[] {c, 0});
        return out;
    }

    /**
     * AdamW over GPT-2 124M's parameter count, F32 weights and moments: one tensor; the 148 parameter shapes (slices
     * of the same buffers, 16-byte aligned) one launch each, as the per-tensor path runs them; the same in one
     * multi-tensor launch; and that launch with BF16 gradients.
     */
    private static void adamw(CudaDevice device, Backend b, double copyGbs) {
        long p = 124_439_808L;
        Tensor w = random(DType.F32, 11, -0.1, 0.1, p);
        Tensor grad = random(DType.F32, 12, -0.01, 0.01, p);
        Tensor m = random(DType.F32, 13, -0.01, 0.01, p);
        Tensor v2 = random(DType.F32, 14, 0, 0.001, p);
        AdamParams params = AdamParams.torch(3e-4, 0.9, 0.95, 1e-8, 0.1, true, 10);
        double ms = millis(device, () -> b.optim().adamUpdate(w, grad, m, v2, params), 5, 20);
        row(device, "adamw_f32", "{\"n\": " + p + "}", ms, 7.0 * p * 4, copyGbs);

        List<long[]> shapes = gpt2Parameters();
        List<AdamGroup> groups = new ArrayList<>();
        long at = 0;
        for (long[] s : shapes) {
            groups.add(new AdamGroup(w.slice(0, at, at + s[0]), grad.slice(0, at, at + s[0]),
                    m.slice(0, at, at + s[0]), v2.slice(0, at, at + s[0]), s[1] == 1));
            at += s[0];
        }
        if (at != p) {
            throw new IllegalStateException("GPT-2 124M shapes sum to " + at + ", expected " + p);
        }
        String gpt2 = "{\"n\": " + p + ", \"tensors\": " + groups.size() + "}";
        ms = millis(device, () -> {
            for (AdamGroup t : groups) {
                b.optim().adamUpdate(t.w(), t.g(), t.m(), t.v(), t.decay() ? params : params.withWeightDecay(0));
            }
        }, 5, 20);
        row(device, "adamw_f32_gpt2_per_tensor", gpt2, ms, 7.0 * p * 4, copyGbs);
        ms = millis(device, () -> b.optim().adamUpdateMany(groups, params), 5, 20);
        row(device, "adamw_f32_gpt2_multi_tensor", gpt2, ms, 7.0 * p * 4, copyGbs);

        Tensor grad16 = random(DType.BF16, 15, -0.01, 0.01, p);
        List<AdamGroup> groups16 = new ArrayList<>();
        for (AdamGroup t : groups) {
            long start = t.w().offset();
            groups16.add(new AdamGroup(t.w(), grad16.slice(0, start, start + t.w().numel()), t.m(), t.v(),
                    t.decay()));
        }
        ms = millis(device, () -> b.optim().adamUpdateMany(groups16, params), 5, 20);
        row(device, "adamw_bf16_grad_gpt2_multi_tensor", gpt2, ms, (6.0 * 4 + 2) * p, copyGbs);
    }

    /** Milliseconds of x·Wᵀ + b (and gelu of it) fused into the GEMM and composed of separate kernels, bf16. */
    private static void linearEpilogues(CudaDevice device, Backend b) {
        long rows = 16 * 1024;
        long in = 768;
        long out = 3072;
        Tensor x = random(DType.BF16, 15, -1, 1, rows, in);
        Tensor w = random(DType.BF16, 16, -0.05, 0.05, out, in);
        Tensor bias = random(DType.BF16, 17, -0.1, 0.1, out);
        Tensor y = Tensor.zeros(Shape.of(rows, out), DType.BF16, GPU);
        Tensor pre = Tensor.zeros(Shape.of(rows, out), DType.BF16, GPU);
        Tensor biasRows = new Tensor(bias.storage(), Shape.of(rows, out), new long[] {0, 1}, 0);
        String params = "{\"rows\": " + rows + ", \"in\": " + in + ", \"out\": " + out + "}";
        double fused = millis(device, () -> b.linalg().linear(y, x, w, bias,
                ai.fulgur.ops.linalg.LinearEpilogue.BIAS, null), 10, 50);
        double composed = millis(device, () -> {
            b.linalg().matmul(y.reshape(1, rows, out), x.reshape(1, rows, in), w.reshape(1, out, in), false, true, 1,
                    false);
            b.elementwise().binary(ai.fulgur.ops.elementwise.BinaryOp.ADD, y, y, biasRows);
        }, 10, 50);
        linearRow(device, "linear_bias_bf16", params, fused, composed);
        fused = millis(device, () -> b.linalg().linear(y, x, w, bias,
                ai.fulgur.ops.linalg.LinearEpilogue.GELU_BIAS, pre), 10, 50);
        composed = millis(device, () -> {
            b.linalg().matmul(pre.reshape(1, rows, out), x.reshape(1, rows, in), w.reshape(1, out, in), false, true,
                    1, false);
            b.elementwise().binary(ai.fulgur.ops.elementwise.BinaryOp.ADD, pre, pre, biasRows);
            b.activation().geluForward(y, pre, GeluForm.TANH);
        }, 10, 50);
        linearRow(device, "linear_gelu_bias_with_pre_bf16", params, fused, composed);
    }

    private static void linearRow(CudaDevice device, String name, String params, double fusedMs, double composedMs) {
        System.out.printf("{\"name\": \"%s\", \"parameters\": %s, \"value\": %.4f, \"unit\": \"ms\", "
                + "\"baseline_name\": \"GEMM then separate passes\", \"baseline_value\": %.4f, \"ratio\": %.3f, "
                + "\"card\": \"%s\", \"date\": \"%s\"}%n", name, params, fusedMs, composedMs, fusedMs / composedMs,
                device.name(), LocalDate.now());
    }
}
