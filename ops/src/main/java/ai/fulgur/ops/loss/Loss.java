package ai.fulgur.ops.loss;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Checks;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.RowPitched;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;

/**
 * Fused log-softmax + cross-entropy over the backend's {@link LossKernels}. Logits stored by rows (contiguous, or
 * row-pitched as a vocabulary head's output can be, see {@link RowPitched}) are read in place, and their gradient gets
 * the same row pitch, so the head's backward products read it without a copy; other layouts are copied first.
 */
public final class Loss {
    private Loss() {}

    /** Per-row losses (R) and the saved row logsumexp (R). */
    public record CrossEntropyResult(Tensor losses, Tensor lse) {}

    /**
     * Per-row cross-entropy of logits (..., V) against integer targets (...); rows whose target is {@code ignoreIndex}
     * get 0. Returns losses with the targets' shape.
     */
    public static CrossEntropyResult crossEntropyForward(Tensor logits, Tensor targets, long ignoreIndex) {
        Checks.floating("crossEntropy", "logits", logits);
        Checks.index("crossEntropy", "targets", targets);
        Checks.sameDevice("crossEntropy", "logits", logits, "targets", targets);
        Checks.rankAtLeast("crossEntropy", "logits", logits, 1);
        Shape rowShape = logits.shape().slice(0, logits.rank() - 1);
        if (!targets.shape().equals(rowShape)) {
            throw new IllegalArgumentException("crossEntropy: " + Checks.describe("targets", targets)
                    + " must have the logits' shape without the class axis, " + rowShape + " (logits "
                    + logits.shape() + ")");
        }
        long v = logits.shape().last();
        checkTargets(targets, v, ignoreIndex);
        long r = rowShape.numel();
        DType outType = logits.dtype().isHalf() ? DType.F32 : logits.dtype();
        Tensor losses = Tensor.empty(Shape.of(r), outType, logits.device());
        Tensor lse = Tensor.empty(Shape.of(r), outType, logits.device());
        Backends.of(logits).loss().crossEntropyForward(losses, lse, RowPitched.rows(logits),
                targets.contiguous().reshape(r), ignoreIndex);
        return new CrossEntropyResult(losses.reshape(rowShape), lse);
    }

    /**
     * dlogits (..., V) from the per-row loss gradient dlosses (...): contiguous, or with the logits' row pitch when
     * they are row-pitched (the pad elements past each row are not written).
     */
    public static Tensor crossEntropyBackward(Tensor dlosses, Tensor logits, Tensor lse, Tensor targets,
            long ignoreIndex) {
        Tensor rows = RowPitched.rows(logits);
        long r = rows.shape().dim(0);
        Tensor dlogits = RowPitched.empty(logits.shape(), logits.dtype(), logits.device(), RowPitched.pitch(rows));
        Backends.of(logits).loss().crossEntropyBackward(RowPitched.rowsView(dlogits), dlosses.contiguous().reshape(r),
                rows, lse, targets.contiguous().reshape(r), ignoreIndex);
        return dlogits;
    }

    private static void checkTargets(Tensor targets, long classes, long ignoreIndex) {
        if (!targets.device().isCpu()) {
            return; // device kernels check bounds themselves
        }
        long[] t = targets.toLongArray();
        for (int i = 0; i < t.length; i++) {
            if (t[i] != ignoreIndex && (t[i] < 0 || t[i] >= classes)) {
                throw new IndexOutOfBoundsException("crossEntropy: targets[" + i + "] = " + t[i]
                        + " is not a class index in [0, " + classes + ") nor the ignore index " + ignoreIndex);
            }
        }
    }
}
