package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.random.RandomKernels;

/**
 * Philox random fills and dropout on the GPU (random.cu), element for element the CPU's numbers: uniform draws and
 * dropout masks are bit-identical (the arithmetic after the Philox word is done in double, as on the CPU, and rounded
 * once); normal draws compute Box–Muller in double, where CUDA's log, sin and cos may differ from Java's in the last
 * bit. One thread computes one Philox block of four elements.
 */
final class CudaRandom implements RandomKernels {
    private static final String MODULE = "random";
    private static final int THREADS = 256;

    private static void checkOutput(String op, Tensor t) {
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(op + ": " + t + " must be contiguous");
        }
    }

    private static String suffix(String op, DType t) {
        return switch (t) {
            case F32 -> "f32";
            case BF16 -> "bf16";
            case F16 -> "f16";
            case F64 -> "f64";
            default -> throw new IllegalArgumentException(op + " takes F32, BF16, F16 or F64 tensors, got " + t);
        };
    }

    /** Philox blocks that elements offset .. offset + n − 1 span. */
    private static long blocks(long offset, long n) {
        return ((offset & 3) + n + 3) >>> 2;
    }

    @Override
    public void uniform(Tensor out, long seed, long offset, double low, double high) {
        checkOutput("uniform", out);
        long n = out.numel();
        CudaDevice d = CudaTensors.device(out);
        requireNotCapturing(d, "uniform");
        d.launch(MODULE, "random_uniform", CudaTensors.blocksFor(d, blocks(offset, n), THREADS), THREADS, 0,
                CudaTensors.first(out), out.dtype().ordinal(), n, seed, offset, low, high);
    }

    @Override
    public void normal(Tensor out, long seed, long offset, double mean, double std) {
        checkOutput("normal", out);
        long n = out.numel();
        long pairs = ((offset & 1) + n + 1) >>> 1;
        CudaDevice d = CudaTensors.device(out);
        requireNotCapturing(d, "normal");
        d.launch(MODULE, "random_normal", CudaTensors.blocksFor(d, pairs, THREADS), THREADS, 0,
                CudaTensors.first(out), out.dtype().ordinal(), n, seed, offset, mean, std);
    }

    @Override
    public void dropoutForward(Tensor y, Tensor x, double p, long seed, long offset) {
        dropout("dropoutForward", y, x, p, seed, offset);
    }

    @Override
    public void dropoutBackward(Tensor dx, Tensor dy, double p, long seed, long offset) {
        dropout("dropoutBackward", dx, dy, p, seed, offset); // the same mask and scale: dropout is linear
    }

    /** A graph would replay the Philox offset of its capture: the same "random" numbers every step. */
    private static void requireNotCapturing(CudaDevice d, String op) {
        d.requireNotCapturing(op + " (random numbers: its Philox seed and offset would be baked into the graph, the "
                + "same mask at every replay; train with dropout 0 to use CUDA graphs)");
    }

    // out (n), in (n): same dtype, contiguous
    private static void dropout(String op, Tensor out, Tensor in, double p, long seed, long offset) {
        checkOutput(op, out);
        checkOutput(op, in);
        if (out.dtype() != in.dtype() || out.numel() != in.numel()) {
            throw new IllegalArgumentException(op + ": output " + out + " must match input " + in);
        }
        long n = out.numel();
        CudaDevice d = CudaTensors.device(out);
        requireNotCapturing(d, op);
        d.launch(MODULE, "dropout_" + suffix(op, out.dtype()), CudaTensors.blocksFor(d, blocks(offset, n), THREADS),
                THREADS, 0, CudaTensors.first(out), CudaTensors.first(in), n, seed, offset, (float) p, 1 / (1 - p));
    }

    /**
     * The raw Philox4x32-10 words of arbitrary counters: out (K, 4) I32 = Philox.block(seed, counters[k]) for counters
     * (K, 4) I32. For tests against {@link ai.fulgur.ops.random.Philox#block}.
     */
    void philoxBlocks(Tensor out, long seed, Tensor counters) {
        if (out.dtype() != DType.I32 || counters.dtype() != DType.I32 || !out.isContiguous()
                || !counters.isContiguous() || out.numel() != counters.numel() || counters.numel() % 4 != 0) {
            throw new IllegalArgumentException("philoxBlocks takes contiguous I32 out and counters of shape (K, 4), got "
                    + out + " and " + counters);
        }
        long k = counters.numel() / 4;
        CudaDevice d = CudaTensors.device(out);
        d.launch(MODULE, "philox_blocks", CudaTensors.blocksFor(d, k, THREADS), THREADS, 0, CudaTensors.first(out),
                CudaTensors.first(counters), k, seed);
    }
}
