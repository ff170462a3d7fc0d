package ai.fulgur.ops.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;

/**
 * Splits a range of independent work items over the common fork-join pool. Work below {@code grain} items (or on a
 * one-core machine) runs on the calling thread, so small tensors pay no scheduling cost.
 */
public final class CpuParallel {
    private CpuParallel() {}

    /** A body over the half-open range [from, to). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    /** Number of worker threads kernels may use. */
    public static int threads() {
        return Math.max(1, ForkJoinPool.getCommonPoolParallelism());
    }

    /**
     * Runs {@code body} over [0, n) in chunks of at least {@code grain} items, in parallel when that pays.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        int threads = threads();
        if (n <= 0) {
            return;
        }
        if (threads == 1 || n <= grain || ForkJoinPool.commonPool().getParallelism() <= 1) {
            body.run(0, n);
            return;
        }
        int chunks = Math.min(threads * 4, (n + grain - 1) / grain);
        int chunk = (n + chunks - 1) / chunks;
        ForkJoinPool.commonPool().invoke(new Split(body, 0, n, chunk));
    }

    private static final class Split extends RecursiveAction {
        private final RangeBody body;
        private final int from;
        private final int to;
        private final int chunk;

        Split(RangeBody body, int from, int to, int chunk) {
            this.body = body;
            this.from = from;
            this.to = to;
            this.chunk = chunk;
        }

        @Override
        protected void compute() {
            if (to - from <= chunk) {
                body.run(from, to);
                return;
            }
            int mid = from + (((to - from) / chunk + 1) / 2) * chunk;
            invokeAll(new Split(body, from, mid, chunk), new Split(body, mid, to, chunk));
        }
    }
}
