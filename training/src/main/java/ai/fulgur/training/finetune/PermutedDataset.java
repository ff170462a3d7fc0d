package ai.fulgur.training.finetune;

import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.util.Progress;
import java.io.IOException;

/**
 * A dataset read through a seeded random permutation of its indices, fresh for every pass: sample i of pass p is
 * {@code inner[perm_p(i mod n)]} with {@code p = i / n}. A step-based loop that reads samples by index then sees every
 * example once per pass, in a different order each pass, and a resumed run reads the same samples.
 */
final class PermutedDataset extends RandomAccessDataset {
    private final RandomAccessDataset inner;
    private final long seed;
    private final long passes;
    private long cachedPass = -1;
    private int[] cachedOrder;

    PermutedDataset(RandomAccessDataset inner, long seed) {
        super(new Builder().setSampling(1, false));
        this.inner = inner;
        this.seed = seed;
        this.passes = 1L << 20;
    }

    @Override
    public synchronized Record get(NDManager manager, long index) throws IOException {
        long n = inner.size();
        long pass = index / n;
        if (pass != cachedPass) {
            cachedOrder = permutation((int) n, seed * 0x9E3779B97F4A7C15L + pass);
            cachedPass = pass;
        }
        return inner.get(manager, cachedOrder[(int) (index % n)]);
    }

    private static int[] permutation(int n, long seed) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }

    @Override
    protected long availableSize() {
        return inner.size() * passes;
    }

    @Override
    public void prepare(Progress progress) {
    }

    private static final class Builder extends BaseBuilder<Builder> {
        @Override
        protected Builder self() {
            return this;
        }
    }
}
