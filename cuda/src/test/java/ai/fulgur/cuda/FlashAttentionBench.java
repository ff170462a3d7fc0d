package ai.fulgur.cuda;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionKernels;
import ai.fulgur.ops.attention.AttentionSpec;
import ai.fulgur.ops.random.Rng;
import java.time.LocalDate;

/**
 * FlashAttention throughput on the GPU, forward and backward, BF16: TFLOP/s with FlashAttention's counting (forward
 * 4·b·h·n²·d, backward 2.5× that, both halved when causal), median of event-timed repetitions after warm-up, fresh
 * random inputs; the backward three ways: the default (dQ by atomics; on sm_90 the Hopper wgmma kernel), the
 * mma.sync kernel with dQ by atomics ({@code fulgur.flash.hopperBackward=false}, the same as the default elsewhere),
 * and deterministic. Shapes: n = 512 … 16384, head dims 64 and 128, b·n = 16384 tokens and h·d = 2048 (a 2048-wide model),
 * causal and not. The PyTorch baseline (scaled_dot_product_attention, FLASH and cuDNN backends) is
 * tools/bench/torch_attention.py on the same shapes. Run from the bundle like {@link GemmBench}:
 * {@code ... ai.fulgur.cuda.FlashAttentionBench [lengths...]}; prints one JSON object per line.
 */
public final class FlashAttentionBench {
    private FlashAttentionBench() {}

    public static void main(String[] args) {
        Device gpu = Device.cuda(0);
        CudaDevice device = CudaBackend.device(gpu);
        AttentionKernels attention = Backends.of(gpu).attention();
        for (Problem p : Problem.all(args)) {
            long b = p.b(), h = p.h();
            int n = p.n(), d = p.d();
            boolean causal = p.causal();
            Operands x = Operands.random(b, n, h, d, gpu);
            Tensor q = x.q(), k = x.k(), v = x.v(), dout = x.dout(), o = x.o(), lse = x.lse();
            Tensor dq = x.dq(), dk = x.dk(), dv = x.dv();
            AttentionSpec spec = p.spec();
            double fwdMs = device.medianMillis(() -> attention.flashForward(o, lse, q, k, v, spec), 5, 20);
            double bwdMs = device.medianMillis(
                    () -> attention.flashBackward(dq, dk, dv, dout, q, k, v, o, lse, spec), 5, 20);
            // the mma.sync backward (flash_bwd_fused_*) on the same inputs: on sm_90 the default is the Hopper one
            System.setProperty("fulgur.flash.hopperBackward", "false");
            double mmaMs = device.medianMillis(
                    () -> attention.flashBackward(dq, dk, dv, dout, q, k, v, o, lse, spec), 5, 20);
            System.clearProperty("fulgur.flash.hopperBackward");
            AttentionSpec det = spec.withDeterministic(true);
            double detMs = device.medianMillis(
                    () -> attention.flashBackward(dq, dk, dv, dout, q, k, v, o, lse, det), 5, 20);
            double flops = p.forwardFlops();
            print(device, "flash_attention_fwd", n, d, b, h, causal, flops / (fwdMs * 1e-3) / 1e12, fwdMs);
            print(device, "flash_attention_bwd", n, d, b, h, causal, 2.5 * flops / (bwdMs * 1e-3) / 1e12, bwdMs);
            print(device, "flash_attention_bwd_mma_sync", n, d, b, h, causal, 2.5 * flops / (mmaMs * 1e-3) / 1e12,
                    mmaMs);
            print(device, "flash_attention_bwd_deterministic", n, d, b, h, causal,
                    2.5 * flops / (detMs * 1e-3) / 1e12, detMs);
        }
    }

    /**
     * One benchmarked shape: b·n = 16384 tokens and h·d = 2048 (a 2048-wide model), n = 512 … 16384 (or the lengths
     * given as arguments), head dims 64 and 128, causal and not.
     */
    record Problem(long b, int n, long h, int d, boolean causal) {
        static java.util.List<Problem> all(String[] args) {
            int[] lengths = args.length > 0 ? java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray()
                    : new int[] {512, 1024, 2048, 4096, 8192, 16384};
            java.util.List<Problem> all = new java.util.ArrayList<>();
            for (int d : new int[] {64, 128}) {
                for (int n : lengths) {
                    for (boolean causal : new boolean[] {false, true}) {
                        all.add(new Problem(Math.max(1, 16384 / n), n, 2048 / d, d, causal));
                    }
                }
            }
            return all;
        }

        /** FlashAttention's forward FLOP count: 4·b·h·n²·d, halved when causal. */
        double forwardFlops() {
            return 4.0 * b * h * n * (double) n * d / (causal ? 2 : 1);
        }

        AttentionSpec spec() {
            return causal ? AttentionSpec.causal(d) : AttentionSpec.dense(d);
        }
    }

    /** Random BF16 q, k, v and dO in [−1, 1) of shape (B, N, H, D), and room for o, lse, dq, dk, dv. */
    record Operands(Tensor q, Tensor k, Tensor v, Tensor dout, Tensor o, Tensor lse, Tensor dq, Tensor dk, Tensor dv) {
        static Operands random(long b, long n, long h, long d, Device gpu) {
            Shape shape = Shape.of(b, n, h, d);
            return new Operands(uniform(shape, gpu, 1), uniform(shape, gpu, 2), uniform(shape, gpu, 3),
                    uniform(shape, gpu, 4), Tensor.empty(shape, DType.BF16, gpu),
                    Tensor.empty(Shape.of(b, h, n), DType.F32, gpu), Tensor.empty(shape, DType.BF16, gpu),
                    Tensor.empty(shape, DType.BF16, gpu), Tensor.empty(shape, DType.BF16, gpu));
        }

        private static Tensor uniform(Shape shape, Device gpu, long seed) {
            return Rng.uniform(shape, DType.F32, gpu, seed, 0, -1, 1).cast(DType.BF16);
        }
    }

    private static void print(CudaDevice device, String name, int n, int d, long b, long h, boolean causal,
            double tflops, double ms) {
        System.out.printf("{\"name\": \"%s\", \"parameters\": {\"n\": %d, \"d\": %d, \"b\": %d, \"h\": %d, "
                + "\"causal\": %b, \"dtype\": \"bf16\"}, \"value\": %.1f, \"unit\": \"TFLOP/s\", \"ms\": %.4f, "
                + "\"card\": \"%s\", \"date\": \"%s\"}%n", name, n, d, b, h, causal, tflops, ms, device.name(),
                LocalDate.now());
    }
}
