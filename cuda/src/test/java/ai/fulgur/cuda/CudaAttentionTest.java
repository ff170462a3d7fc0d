package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.Attention;
import ai.fulgur.ops.attention.AttentionKernels;
import ai.fulgur.ops.attention.AttentionSpec;
import ai.fulgur.ops.attention.BlockSparseLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * CUDA FlashAttention equals the CPU reference ({@link ai.fulgur.ops.cpu.CpuAttention}: F32 math on the same BF16/F16
 * inputs) on fresh random inputs with lengths that are not tile multiples: outputs, logsumexp and the three
 * gradients, for every option (causal with Nq = Nk, Nq &lt; Nk and Nq &gt; Nk, sliding windows, grouped-query heads,
 * padded key lengths, packed variable-length batches, softmax scale, dropout, strided (B, H, N, D) views, block-sparse
 * layouts of several block sizes, shared or per head), outputs
 * poisoned with NaN before each run. Dropout must draw the CPU's mask: any other mask moves the output far outside
 * the tolerance. The backward pass is checked on both paths: the default one (dQ by atomics) and the deterministic
 * one, whose two runs must give the same bits.
 */
class CudaAttentionTest extends GpuTest {
    private static final DType[] DTYPES = {DType.BF16, DType.F16};
    private static final int[] HEAD_DIMS = FlashKernels.HEAD_DIMS;

    /** One attention call's shapes and options. */
    private record Case(String name, int b, int nq, int nk, int hq, int hkv, AttentionSpecFactory spec,
            boolean transposedQ) {}

    private interface AttentionSpecFactory {
        AttentionSpec of(int headDim);
    }

    private static AttentionSpec base(int d) {
        return AttentionSpec.dense(d);
    }

    private static List<Case> cases() {
        List<Case> c = new ArrayList<>();
        c.add(new Case("dense", 2, 203, 203, 4, 4, CudaAttentionTest::base, false));
        c.add(new Case("dense (B, H, N, D) view", 2, 113, 150, 2, 2, CudaAttentionTest::base, true));
        c.add(new Case("causal", 2, 203, 203, 4, 4, AttentionSpec::causal, false));
        c.add(new Case("causal nq < nk, gqa", 2, 77, 300, 4, 2, AttentionSpec::causal, false));
        c.add(new Case("causal nq > nk", 1, 300, 113, 2, 2, AttentionSpec::causal, false));
        c.add(new Case("window gqa", 2, 257, 257, 8, 2, d -> base(d).withWindow(40, 17), false));
        c.add(new Case("causal window mqa", 1, 190, 190, 4, 1, d -> AttentionSpec.causal(d).withWindow(33, 0),
                false));
        c.add(new Case("key lengths causal", 3, 130, 190, 4, 1,
                d -> AttentionSpec.causal(d).withKeyLengths(Tensor.of(new int[] {190, 77, 0}, 3)), false));
        c.add(new Case("packed causal", 1, 357, 390, 4, 2, d -> AttentionSpec.causal(d).withPacked(
                Tensor.of(new int[] {0, 100, 100, 357}, 4), Tensor.of(new int[] {0, 150, 170, 390}, 4)), false));
        c.add(new Case("scale", 1, 129, 1023, 2, 2, d -> base(d).withScale(0.3), false));
        c.add(new Case("dropout gqa", 2, 131, 97, 4, 2, d -> base(d).withDropout(0.17, 0x1234567890ABL, 12345), false));
        c.add(new Case("dropout causal packed", 1, 199, 250, 2, 1, d -> AttentionSpec.causal(d).withDropout(0.3, 7, 3)
                .withPacked(Tensor.of(new int[] {0, 60, 199}, 3), Tensor.of(new int[] {0, 61, 250}, 3)), false));
        // block-sparse: random layouts (about half the blocks set), shared or per head, block sizes below, at and
        // above the kernels' tiles, with masks on top
        c.add(new Case("block-sparse 64 shared gqa", 2, 300, 300, 4, 2,
                d -> base(d).withLayout(randomLayout(64, 1, 300, 300, 11)), false));
        c.add(new Case("block-sparse 16 per head causal", 1, 203, 203, 4, 4,
                d -> AttentionSpec.causal(d).withLayout(randomLayout(16, 4, 203, 203, 12)), false));
        c.add(new Case("block-sparse 128 mqa nq < nk", 1, 150, 333, 4, 1,
                d -> base(d).withLayout(randomLayout(128, 1, 150, 333, 13)), false));
        c.add(new Case("block-sparse 32 dropout window", 2, 190, 190, 2, 2, d -> base(d).withWindow(50, 20)
                .withDropout(0.2, 99, 5).withLayout(randomLayout(32, 2, 190, 190, 14)), false));
        // the kernels walk compressed tile lists: query blocks with no block set (output 0, lse as the CPU's), heads
        // of one group with different lists, blocks larger than every tile, packed sequences
        c.add(new Case("block-sparse 64 per head gqa, empty rows", 2, 320, 320, 4, 2,
                d -> base(d).withLayout(rowsCleared(randomLayout(64, 4, 320, 320, 15), 2)), false));
        c.add(new Case("block-sparse 256 shared causal", 1, 600, 600, 2, 1,
                d -> AttentionSpec.causal(d).withLayout(randomLayout(256, 1, 600, 600, 16)), false));
        c.add(new Case("block-sparse 32 packed causal", 1, 357, 390, 4, 2, d -> AttentionSpec.causal(d)
                .withPacked(Tensor.of(new int[] {0, 100, 100, 357}, 4), Tensor.of(new int[] {0, 150, 170, 390}, 4))
                .withLayout(randomLayout(32, 1, 257, 257, 17)), false));
        return c;
    }

    /**
     * The cases whose names contain one of the comma-separated parts of the system property
     * {@code fulgur.attentionCases} (a short run, e.g. under compute-sanitizer); all of them when it is unset.
     */
    private static List<Case> selected(List<Case> all) {
        String filter = System.getProperty("fulgur.attentionCases", "");
        if (filter.isBlank()) {
            return all;
        }
        List<Case> out = new ArrayList<>();
        for (Case c : all) {
            for (String part : filter.split(",")) {
                if (!part.isBlank() && c.name().contains(part.strip())) {
                    out.add(c);
                    break;
                }
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("fulgur.attentionCases=" + filter + " selects no case");
        }
        return out;
    }

    /** The layout with every key block of each {@code every}-th query block (from the first) cleared. */
    private static BlockSparseLayout rowsCleared(BlockSparseLayout l, int every) {
        boolean[] m = l.mask();
        for (int h = 0; h < l.heads(); h++) {
            for (int a = 0; a < l.queryBlocks(); a += every) {
                for (int c = 0; c < l.keyBlocks(); c++) {
                    m[(h * l.queryBlocks() + a) * l.keyBlocks() + c] = false;
                }
            }
        }
        return new BlockSparseLayout(l.blockSize(), l.heads(), l.queryBlocks(), l.keyBlocks(), m);
    }

    /** A layout with each (head, query block, key block) set with probability 1/2, from a fixed seed. */
    private static BlockSparseLayout randomLayout(int blockSize, int heads, long nq, long nk, long seed) {
        int qb = BlockSparseLayout.blocksFor(nq, blockSize);
        int kb = BlockSparseLayout.blocksFor(nk, blockSize);
        boolean[] m = new boolean[heads * qb * kb];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < m.length; i++) {
            m[i] = r.nextBoolean();
        }
        return new BlockSparseLayout(blockSize, heads, qb, kb, m);
    }

    private static AttentionKernels cpu() {
        return Backends.of(Device.CPU).attention();
    }

    private static AttentionKernels gpu() {
        return Backends.of(GPU).attention();
    }

    /** (B, N, H, D) random values, or a (B, H, N, D) tensor viewed as (B, N, H, D). */
    private static Tensor input(SplittableRandom rnd, DType dtype, long b, long n, long h, long d, boolean transposed) {
        if (transposed) {
            return CudaTesting.random(rnd, dtype, -1, 1, b, h, n, d).transpose(1, 2);
        }
        return CudaTesting.random(rnd, dtype, -1, 1, b, n, h, d);
    }

    @Test
    void forwardAndBackwardMatchCpu() {
        SplittableRandom rnd = new SplittableRandom(6);
        for (DType dtype : DTYPES) {
            for (int d : HEAD_DIMS) {
                for (Case c : selected(cases())) {
                    AttentionSpec spec = c.spec().of(d);
                    String what = c.name() + " " + dtype + " d" + d;
                    Tensor q = input(rnd, dtype, c.b(), c.nq(), c.hq(), d, c.transposedQ());
                    Tensor k = input(rnd, dtype, c.b(), c.nk(), c.hkv(), d, false);
                    Tensor v = input(rnd, dtype, c.b(), c.nk(), c.hkv(), d, c.transposedQ());
                    Tensor dout = input(rnd, dtype, c.b(), c.nq(), c.hq(), d, false);
                    Shape lseShape = Shape.of(c.b(), c.hq(), c.nq());

                    Tensor o = Tensor.zeros(q.shape(), dtype, Device.CPU);
                    Tensor lse = Tensor.zeros(lseShape, DType.F32, Device.CPU);
                    cpu().flashForward(o, lse, q, k, v, spec);
                    Tensor dq = Tensor.zeros(q.shape(), dtype, Device.CPU);
                    Tensor dk = Tensor.zeros(k.shape(), dtype, Device.CPU);
                    Tensor dv = Tensor.zeros(k.shape(), dtype, Device.CPU);
                    cpu().flashBackward(dq, dk, dv, dout, q, k, v, o, lse, spec);

                    Tensor qg = q.to(GPU);
                    Tensor kg = k.to(GPU);
                    Tensor vg = v.to(GPU);
                    Tensor og = CudaTesting.poisoned(q.shape(), dtype);
                    Tensor lseg = CudaTesting.poisoned(lseShape, DType.F32);
                    gpu().flashForward(og, lseg, qg, kg, vg, spec);
                    CudaTesting.assertNear(what + " o", o, og, 1e-2);
                    CudaTesting.assertNear(what + " lse", lse, lseg, 1e-4);

                    // the backward from the CPU's saved O and lse, so both passes see the same inputs
                    // default: dQ by atomics; deterministic: dQ in its own pass, the same bits on every run
                    Tensor[] fast = backward(dtype, q, k, dout.to(GPU), qg, kg, vg, o.to(GPU), lse.to(GPU), spec);
                    CudaTesting.assertNear(what + " dq (atomics)", dq, fast[0], 2e-2);
                    CudaTesting.assertNear(what + " dk (atomics)", dk, fast[1], 2e-2);
                    CudaTesting.assertNear(what + " dv (atomics)", dv, fast[2], 2e-2);
                    AttentionSpec det = spec.withDeterministic(true);
                    Tensor[] grads = backward(dtype, q, k, dout.to(GPU), qg, kg, vg, o.to(GPU), lse.to(GPU), det);
                    CudaTesting.assertNear(what + " dq", dq, grads[0], 2e-2);
                    CudaTesting.assertNear(what + " dk", dk, grads[1], 2e-2);
                    CudaTesting.assertNear(what + " dv", dv, grads[2], 2e-2);
                    Tensor[] again = backward(dtype, q, k, dout.to(GPU), qg, kg, vg, o.to(GPU), lse.to(GPU), det);
                    for (int i = 0; i < 3; i++) {
                        assertArrayEquals(grads[i].to(Device.CPU).toDoubleArray(),
                                again[i].to(Device.CPU).toDoubleArray(), what + ": gradient " + i + " changed between runs");
                    }
                }
            }
        }
    }

    private static Tensor[] backward(DType dtype, Tensor q, Tensor k, Tensor dout, Tensor qg, Tensor kg, Tensor vg,
            Tensor og, Tensor lseg, AttentionSpec spec) {
        Tensor dq = CudaTesting.poisoned(q.shape(), dtype);
        Tensor dk = CudaTesting.poisoned(k.shape(), dtype);
        Tensor dv = CudaTesting.poisoned(k.shape(), dtype);
        gpu().flashBackward(dq, dk, dv, dout, qg, kg, vg, og, lseg, spec);
        return new Tensor[] {dq, dk, dv};
    }

    /**
     * The entry points the autograd FlashAttention function calls (Attention.flashForward/flashBackward allocate the
     * outputs and dispatch on the tensors' device) run the CUDA kernels for GPU tensors and agree with the CPU.
     */
    @Test
    void attentionEntryPointsDispatchToCuda() {
        SplittableRandom rnd = new SplittableRandom(7);
        int d = 64;
        Tensor q = input(rnd, DType.BF16, 2, 100, 4, d, false);
        Tensor k = input(rnd, DType.BF16, 2, 120, 2, d, false);
        Tensor v = input(rnd, DType.BF16, 2, 120, 2, d, false);
        Tensor dout = input(rnd, DType.BF16, 2, 100, 4, d, false);
        AttentionSpec spec = AttentionSpec.causal(d);
        Attention.Forward cpuF = Attention.flashForward(q, k, v, spec);
        Attention.Forward gpuF = Attention.flashForward(q.to(GPU), k.to(GPU), v.to(GPU), spec);
        CudaTesting.assertNear("Attention.flashForward out", cpuF.out(), gpuF.out(), 1e-2);
        CudaTesting.assertNear("Attention.flashForward lse", cpuF.lse(), gpuF.lse(), 1e-4);
        Attention.Gradients cpuG = Attention.flashBackward(dout, q, k, v, cpuF.out(), cpuF.lse(), spec);
        Attention.Gradients gpuG = Attention.flashBackward(dout.to(GPU), q.to(GPU), k.to(GPU), v.to(GPU),
                cpuF.out().to(GPU), cpuF.lse().to(GPU), spec);
        CudaTesting.assertNear("Attention.flashBackward dq", cpuG.dq(), gpuG.dq(), 2e-2);
        CudaTesting.assertNear("Attention.flashBackward dk", cpuG.dk(), gpuG.dk(), 2e-2);
        CudaTesting.assertNear("Attention.flashBackward dv", cpuG.dv(), gpuG.dv(), 2e-2);
    }

    @Test
    void unsupportedInputsSayWhatToDo() {
        Tensor q = Tensor.zeros(Shape.of(1, 8, 2, 64), DType.F32, GPU);
        Tensor o = Tensor.zeros(q.shape(), DType.F32, GPU);
        Tensor lse = Tensor.zeros(Shape.of(1, 2, 8), DType.F32, GPU);
        assertThrows(UnsupportedOperationException.class,
                () -> gpu().flashForward(o, lse, q, q, q, AttentionSpec.dense(64)));
        Tensor h = Tensor.zeros(Shape.of(1, 8, 2, 48), DType.BF16, GPU);
        Tensor oh = Tensor.zeros(h.shape(), DType.BF16, GPU);
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> gpu().flashForward(oh, lse, h, h, h, AttentionSpec.dense(48)));
        assertTrue(e.getMessage().contains("48"), e.getMessage());
    }
}
