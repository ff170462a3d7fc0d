package ai.fulgur.cuda;

import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;

/**
 * How a large single-matrix product that cuBLASLt would run on its slow kernels becomes products it runs fast,
 * without padded copies of the operands where their row strides allow (GPT-2's vocabulary head, 8192 × 50257 × 768,
 * over row-pitched logits and logits gradient):
 * <ol>
 *   <li>an operand whose row stride is not a multiple of q elements (16 bytes) is copied, that one only, into a buffer
 *       whose rows are padded to the next multiple, m, n and k unchanged (an output likewise, and copied back);</li>
 *   <li>with every row stride aligned, a misaligned k, m or n (in that order) is split into its largest aligned part
 *       and a tail of fewer than q: out = body + tail along k (the tail accumulates), or the output's rows or columns
 *       in two blocks.</li>
 * </ol>
 * Aligned leading dimensions alone are not enough: on an H200, cuBLASLt 13 ran the head's three GEMMs with
 * row-pitched operands (ld 50264) but m, n or k = 50257 at 100-440 TFLOP/s, against 600-680 for the zero-padded
 * problem and 600-660 for this split (PitchedGemmBench, docs/PERF.md): the body is the padded problem's kernel and
 * the tail a sliver. Each part goes back through {@link Steps#product}, which splits it again where it is still large
 * and misaligned. A matrix with a single stored row has no row stride to align (its one row is read from its start).
 *
 * <p>Leaves out: batched products (the backend runs them as they come).
 */
final class AlignedProductSplit {
    private AlignedProductSplit() {}

    /** What a split calls: a product (the backend's matmul, which may split again), a padded-pitch copy, a copy. */
    interface Steps {
        void product(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, double alpha, boolean accumulate);

        /** A new (1, r, c) matrix with rows {@code pitch} elements apart, holding t's values when asked. */
        Tensor repitched(Tensor t, long pitch, boolean withValues);

        void copy(Tensor dst, Tensor src);
    }

    /**
     * Runs out (1, m, n) = alpha · op(a) · op(b) (+ out) as aligned parts through {@code steps} when it has at least
     * {@code minMacs} multiply-adds and something misaligned (q elements = 16 bytes); returns false, doing nothing,
     * for batched, small, empty-depth or aligned problems. Shapes as {@link ai.fulgur.ops.linalg.LinalgKernels#matmul}.
     */
    static boolean apply(Steps steps, long q, long minMacs, Tensor out, Tensor a, Tensor b, boolean transA,
            boolean transB, double alpha, boolean accumulate) {
        if (out.shape().dim(0) != 1 || a.shape().dim(0) != 1 || b.shape().dim(0) != 1) {
            return false;
        }
        long m = out.shape().dim(1);
        long n = out.shape().dim(2);
        long k = transA ? a.shape().dim(1) : a.shape().dim(2);
        if (m * n * k < minMacs || k == 0 || m == 0 || n == 0) {
            return false;
        }
        boolean aOk = rowStrideAligned(a, q);
        boolean bOk = rowStrideAligned(b, q);
        boolean outOk = rowStrideAligned(out, q);
        if (!aOk || !bOk || !outOk) {
            Tensor ap = aOk ? a : steps.repitched(a, roundUp(a.shape().dim(2), q), true);
            Tensor bp = bOk ? b : steps.repitched(b, roundUp(b.shape().dim(2), q), true);
            Tensor outp = outOk ? out : steps.repitched(out, roundUp(n, q), accumulate);
            steps.product(outp, ap, bp, transA, transB, alpha, accumulate);
            if (outp != out) {
                steps.copy(out, outp);
            }
            return true;
        }
        long k0 = k / q * q;
        long m0 = m / q * q;
        long n0 = n / q * q;
        if (k0 != k && k0 > 0) {
            // stored a: (m, k), or (k, m) when transA; b: (k, n), or (n, k) when transB
            Tensor aBody = transA ? rows(a, 0, k0) : cols(a, 0, k0);
            Tensor aTail = transA ? rows(a, k0, k) : cols(a, k0, k);
            Tensor bBody = transB ? cols(b, 0, k0) : rows(b, 0, k0);
            Tensor bTail = transB ? cols(b, k0, k) : rows(b, k0, k);
            steps.product(out, aBody, bBody, transA, transB, alpha, accumulate);
            steps.product(out, aTail, bTail, transA, transB, alpha, true);
            return true;
        }
        if (m0 != m && m0 > 0) {
            steps.product(rows(out, 0, m0), transA ? cols(a, 0, m0) : rows(a, 0, m0), b, transA, transB, alpha,
                    accumulate);
            steps.product(rows(out, m0, m), transA ? cols(a, m0, m) : rows(a, m0, m), b, transA, transB, alpha,
                    accumulate);
            return true;
        }
        if (n0 != n && n0 > 0) {
            steps.product(cols(out, 0, n0), a, transB ? rows(b, 0, n0) : cols(b, 0, n0), transA, transB, alpha,
                    accumulate);
            steps.product(cols(out, n0, n), a, transB ? rows(b, n0, n) : cols(b, n0, n), transA, transB, alpha,
                    accumulate);
            return true;
        }
        return false;
    }

    /** The row stride (leading dimension) of a (B, rows, cols) matrix stored by rows; cols when there is one row. */
    static long rowStride(Tensor t) {
        return t.shape().dim(1) <= 1 ? t.shape().dim(2) : t.stride(1);
    }

    /** Whether a (B, rows, cols) matrix's row stride is a multiple of q, or it has one row (no stride to align). */
    static boolean rowStrideAligned(Tensor t, long q) {
        return t.shape().dim(1) <= 1 || t.stride(1) % q == 0;
    }

    /** Stored rows [r0, r1) of a (1, rows, cols) matrix, as a view at the same row stride. */
    private static Tensor rows(Tensor t, long r0, long r1) {
        return new Tensor(t.storage(), Shape.of(1, r1 - r0, t.shape().dim(2)), t.strides(),
                t.offset() + r0 * rowStride(t));
    }

    /** Stored columns [c0, c1) of a (1, rows, cols) matrix, as a view at the same row stride. */
    private static Tensor cols(Tensor t, long c0, long c1) {
        return new Tensor(t.storage(), Shape.of(1, t.shape().dim(1), c1 - c0), t.strides(), t.offset() + c0);
    }

    private static long roundUp(long x, long q) {
        return (x + q - 1) / q * q;
    }
}
