package ai.fulgur.ops.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.RecursiveAction;

/**
 * Splits a range of independent work items over Fulgur's CPU worker pool. The pool has one worker per core (the JDK's
 * common pool keeps one core for the caller, which on a 2-core machine halves the kernels' speed); set
 * {@code -Dfulgur.cpu.threads=N} to change it. Work below {@code grain} items runs on the calling thread, so small
 * tensors pay no scheduling cost.
 */
public final class CpuParallel {
    private static final ForkJoinPool POOL = createPool();

    private CpuParallel() {}

    private static ForkJoinPool createPool() {
        int threads = Integer.getInteger("fulgur.cpu.threads", Runtime.getRuntime().availableProcessors());
        if (threads < 1) {
            throw new IllegalArgumentException("fulgur.cpu.threads must be >= 1, got " + threads);
        }
        ForkJoinPool.ForkJoinWorkerThreadFactory factory = pool -> {
            ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
            t.setName("fulgur-cpu-" + t.getPoolIndex());
            t.setDaemon(true);
            return t;
        };
        return new ForkJoinPool(threads, factory, null, false);
    }

    /** A body over the half-open range [from, to). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    /** Number of worker threads kernels may use. */
    public static int threads() {
        return POOL.getParallelism();
    }

    /** Runs {@code body} over [0, n) in chunks of at least {@code grain} items, in parallel when that pays. */
    public static void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) {
            return;
        }
        int threads = threads();
        if (threads == 1 || n <= grain) {
            body.run(0, n);
            return;
        }
        int chunks = Math.min(threads * 4, (n + grain - 1) / grain);
        int chunk = (n + chunks - 1) / chunks;
        POOL.invoke(new Split(body, 0, n, chunk));
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
