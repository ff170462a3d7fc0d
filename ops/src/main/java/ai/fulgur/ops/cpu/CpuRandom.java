package ai.fulgur.ops.cpu;

import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.random.Philox;
import ai.fulgur.ops.random.RandomKernels;

/** Philox-based random fills and dropout on the host; each task reads its own slice of the stream. */
public final class CpuRandom implements RandomKernels {
    private static final int GRAIN = 1 << 14;

    @Override
    public void uniform(Tensor out, long seed, long offset, double low, double high) {
        CpuStorage os = out.cpu();
        int base = (int) out.offset();
        CpuParallel.forRange((int) out.numel(), GRAIN, (i0, i1) -> {
            Philox.Stream s = new Philox.Stream(seed, 0);
            for (int i = i0; i < i1; i++) {
                os.set(base + i, low + (high - low) * s.uniform(offset + i));
            }
        });
    }

    @Override
    public void normal(Tensor out, long seed, long offset, double mean, double std) {
        CpuStorage os = out.cpu();
        int base = (int) out.offset();
        CpuParallel.forRange((int) out.numel(), GRAIN, (i0, i1) -> {
            Philox.Stream s = new Philox.Stream(seed, RandomKernels.NORMAL_STREAM);
            for (int i = i0; i < i1; i++) {
                os.set(base + i, mean + std * s.normal(offset + i));
            }
        });
    }

    @Override
    public void dropoutForward(Tensor y, Tensor x, double p, long seed, long offset) {
        applyMask(y, x, p, seed, offset);
    }

    @Override
    public void dropoutBackward(Tensor dx, Tensor dy, double p, long seed, long offset) {
        applyMask(dx, dy, p, seed, offset); // the same mask and scale: dropout is linear in its input
    }

    private static void applyMask(Tensor out, Tensor in, double p, long seed, long offset) {
        CpuStorage os = out.cpu();
        CpuStorage is = in.cpu();
        int ob = (int) out.offset();
        int ib = (int) in.offset();
        double scale = 1 / (1 - p);
        float threshold = (float) p;
        CpuParallel.forRange((int) out.numel(), GRAIN, (i0, i1) -> {
            Philox.Stream s = new Philox.Stream(seed, 0);
            for (int i = i0; i < i1; i++) {
                boolean keep = s.uniform(offset + i) >= threshold;
                os.set(ob + i, keep ? is.get(ib + i) * scale : 0);
            }
        });
    }
}
