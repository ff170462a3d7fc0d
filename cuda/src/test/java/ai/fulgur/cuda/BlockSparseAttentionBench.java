package ai.fulgur.cuda;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionKernels;
import ai.fulgur.ops.attention.AttentionSpec;
import ai.fulgur.ops.attention.BlockSparseLayout;
import java.time.LocalDate;
import java.util.Random;

/**
 * Block-sparse FlashAttention time against dense on the GPU, BF16, n = 8192, batch 2, blocks of 128, head dims 64 (32
 * heads) and 128 (16 heads): the dense kernel, then layouts of density 100%, 50%, 25% and 10% (random blocks shared by
 * the heads, each query block keeping its diagonal block so no row is empty), forward and backward (dQ by atomics, the
 * default). Prints one JSON object per line with the time and the speed-up over dense. Run from the bundle like
 * {@link GemmBench}: {@code ... ai.fulgur.cuda.BlockSparseAttentionBench [n]}.
 */
public final class BlockSparseAttentionBench {
    private BlockSparseAttentionBench() {}

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 8192;
        int b = 2;
        int block = 128;
        Device gpu = Device.cuda(0);
        CudaDevice device = CudaBackend.device(gpu);
        AttentionKernels attention = Backends.of(gpu).attention();
        for (int d : new int[] {64, 128}) {
            int h = 2048 / d;
            FlashAttentionBench.Operands x = FlashAttentionBench.Operands.random(b, n, h, d, gpu);
            Tensor q = x.q(), k = x.k(), v = x.v(), dout = x.dout(), o = x.o(), lse = x.lse();
            Tensor dq = x.dq(), dk = x.dk(), dv = x.dv();
            AttentionSpec dense = AttentionSpec.dense(d);
            double denseFwd = device.medianMillis(() -> attention.flashForward(o, lse, q, k, v, dense), 5, 20);
            double denseBwd = device.medianMillis(
                    () -> attention.flashBackward(dq, dk, dv, dout, q, k, v, o, lse, dense), 5, 20);
            BenchShape shape = new BenchShape(n, d, b, h, block);
            print(device, "dense", shape, 1.0, denseFwd, denseBwd, denseFwd, denseBwd);
            int blocks = n / block;
            for (double density : new double[] {1.0, 0.5, 0.25, 0.1}) {
                boolean[] mask = new boolean[blocks * blocks];
                Random random = new Random(7);
                int set = 0;
                for (int i = 0; i < blocks; i++) {
                    for (int j = 0; j < blocks; j++) {
                        mask[i * blocks + j] = i == j || random.nextDouble() < (density * blocks - 1) / (blocks - 1);
                        set += mask[i * blocks + j] ? 1 : 0;
                    }
                }
                AttentionSpec spec = dense.withLayout(new BlockSparseLayout(block, 1, blocks, blocks, mask));
                double fwd = device.medianMillis(() -> attention.flashForward(o, lse, q, k, v, spec), 5, 20);
                double bwd = device.medianMillis(
                        () -> attention.flashBackward(dq, dk, dv, dout, q, k, v, o, lse, spec), 5, 20);
                print(device, "block_sparse", shape, (double) set / mask.length, fwd, bwd, denseFwd, denseBwd);
            }
            for (Tensor t : new Tensor[] {q, k, v, dout, o, lse, dq, dk, dv}) {
                t.storage().close();
            }
        }
    }

    /** The benchmark's shape: sequence length, head dim, batch, heads, layout block size. */
    private record BenchShape(int n, int d, int b, int h, int block) {}

    private static void print(CudaDevice device, String name, BenchShape shape, double density, double fwdMs,
            double bwdMs, double denseFwdMs, double denseBwdMs) {
        System.out.printf("{\"name\": \"%s\", \"parameters\": {\"n\": %d, \"d\": %d, \"b\": %d, \"h\": %d, "
                + "\"block\": %d, \"density\": %.3f, \"dtype\": \"bf16\"}, \"fwd_ms\": %.4f, \"bwd_ms\": %.4f, "
                + "\"fwd_speedup_vs_dense\": %.2f, \"bwd_speedup_vs_dense\": %.2f, \"card\": \"%s\", "
                + "\"date\": \"%s\"}%n", name, shape.n(), shape.d(), shape.b(), shape.h(), shape.block(), density,
                fwdMs, bwdMs, denseFwdMs / fwdMs, denseBwdMs / bwdMs, device.name(), LocalDate.now());
    }
}
