package ai.fulgur.cuda;

import ai.fulgur.ops.Backend;
import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionSpec;
import ai.fulgur.ops.random.Rng;
import java.time.LocalDate;

/**
 * Peak GPU memory of one attention forward + backward, FlashAttention against naive attention that materialises the
 * n × n scores S and probabilities P, BF16, batch 1, 16 heads, head dim 64, n = 1024 … 16384. The peak is the caching
 * allocator's peak of bytes handed out ({@link CudaDevice#peakBytes()}), reset once q, k, v and dO exist, so it counts
 * those inputs too, like {@code torch.cuda.max_memory_allocated} in tools/bench/torch_attention_memory.py (same
 * shapes, PyTorch's math and FLASH backends). The naive path frees what a tape would: S once P exists, dP once dS
 * exists. Prints one JSON object per line; run from the bundle like {@link GemmBench}:
 * {@code ... ai.fulgur.cuda.AttentionMemoryBench [lengths...]}.
 */
public final class AttentionMemoryBench {
    private AttentionMemoryBench() {}

    private static final long BATCH = 1;
    private static final long HEADS = 16;
    private static final long HEAD_DIM = 64;

    public static void main(String[] args) {
        int[] lengths = args.length > 0 ? java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray()
                : new int[] {1024, 2048, 4096, 8192, 16384};
        Device gpu = Device.cuda(0);
        CudaDevice device = CudaBackend.device(gpu);
        Backend backend = Backends.of(gpu);
        for (int n : lengths) {
            print(device, "attention_peak_memory_fulgur_flash", n, flashPeak(device, backend, n));
            print(device, "attention_peak_memory_fulgur_naive", n, naivePeak(device, backend, n));
        }
    }

    /** Peak bytes of flashForward + flashBackward on (B, N, H, D) inputs, with their outputs. */
    private static long[] flashPeak(CudaDevice device, Backend backend, int n) {
        Shape shape = Shape.of(BATCH, n, HEADS, HEAD_DIM);
        Tensor q = uniform(shape, 1), k = uniform(shape, 2), v = uniform(shape, 3), dout = uniform(shape, 4);
        device.synchronize();
        long inputs = device.allocatedBytes();
        device.resetPeak();
        AttentionSpec spec = AttentionSpec.dense((int) HEAD_DIM);
        Tensor o = Tensor.empty(shape, DType.BF16, q.device());
        Tensor lse = Tensor.empty(Shape.of(BATCH, HEADS, n), DType.F32, q.device());
        backend.attention().flashForward(o, lse, q, k, v, spec);
        Tensor dq = Tensor.empty(shape, DType.BF16, q.device());
        Tensor dk = Tensor.empty(shape, DType.BF16, q.device());
        Tensor dv = Tensor.empty(shape, DType.BF16, q.device());
        backend.attention().flashBackward(dq, dk, dv, dout, q, k, v, o, lse, spec);
        device.synchronize();
        long peak = device.peakBytes();
        close(q, k, v, dout, o, lse, dq, dk, dv);
        return new long[] {peak, inputs};
    }

    /**
     * Peak bytes of naive attention on (B·H, N, D) inputs: S = q·kᵀ·scale, P = softmax(S), O = P·v; backward
     * dP = dO·vᵀ, dS = softmax'(P, dP), dq = dS·k·scale, dk = dSᵀ·q·scale, dv = Pᵀ·dO.
     */
    private static long[] naivePeak(CudaDevice device, Backend backend, int n) {
        long bh = BATCH * HEADS;
        Shape shape = Shape.of(bh, n, HEAD_DIM);
        Shape scores = Shape.of(bh, n, n);
        double scale = 1 / Math.sqrt(HEAD_DIM);
        Tensor q = uniform(shape, 1), k = uniform(shape, 2), v = uniform(shape, 3), dout = uniform(shape, 4);
        device.synchronize();
        long inputs = device.allocatedBytes();
        device.resetPeak();
        Device at = q.device();
        Tensor s = Tensor.empty(scores, DType.BF16, at);
        backend.linalg().matmul(s, q, k, false, true, scale, false);
        Tensor p = Tensor.empty(scores, DType.BF16, at);
        backend.activation().softmaxForward(p.reshape(bh * n, n), s.reshape(bh * n, n), false);
        s.storage().close();
        Tensor o = Tensor.empty(shape, DType.BF16, at);
        backend.linalg().matmul(o, p, v, false, false, 1, false);
        Tensor dp = Tensor.empty(scores, DType.BF16, at);
        backend.linalg().matmul(dp, dout, v, false, true, 1, false);
        Tensor dv = Tensor.empty(shape, DType.BF16, at);
        backend.linalg().matmul(dv, p, dout, true, false, 1, false);
        Tensor ds = Tensor.empty(scores, DType.BF16, at);
        backend.activation().softmaxBackward(ds.reshape(bh * n, n), p.reshape(bh * n, n), dp.reshape(bh * n, n),
                false);
        dp.storage().close();
        Tensor dq = Tensor.empty(shape, DType.BF16, at);
        backend.linalg().matmul(dq, ds, k, false, false, scale, false);
        Tensor dk = Tensor.empty(shape, DType.BF16, at);
        backend.linalg().matmul(dk, ds, q, true, false, scale, false);
        device.synchronize();
        long peak = device.peakBytes();
        close(q, k, v, dout, p, o, dv, ds, dq, dk);
        return new long[] {peak, inputs};
    }

    /** BF16 values in [−1, 1); the F32 draw is freed at once so it never counts in a peak. */
    private static Tensor uniform(Shape shape, long seed) {
        Tensor f32 = Rng.uniform(shape, DType.F32, Device.cuda(0), seed, 0, -1, 1);
        Tensor out = f32.cast(DType.BF16);
        f32.storage().close();
        return out;
    }

    private static void close(Tensor... tensors) {
        for (Tensor t : tensors) {
            t.storage().close();
        }
    }

    private static void print(CudaDevice device, String name, int n, long[] peakAndInputs) {
        System.out.printf("{\"name\": \"%s\", \"parameters\": {\"n\": %d, \"d\": %d, \"b\": %d, \"h\": %d, "
                + "\"dtype\": \"bf16\"}, \"peak_mib\": %.1f, \"inputs_mib\": %.1f, \"card\": \"%s\", "
                + "\"date\": \"%s\"}%n", name, n, HEAD_DIM, BATCH, HEADS, peakAndInputs[0] / 1048576.0,
                peakAndInputs[1] / 1048576.0, device.name(), LocalDate.now());
    }
}
