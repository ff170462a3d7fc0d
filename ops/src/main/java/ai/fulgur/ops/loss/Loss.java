package ai.fulgur.ops.loss;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Checks;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;

/** Fused log-softmax + cross-entropy over the backend's {@link LossKernels}. */
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
        Backends.of(logits).loss().crossEntropyForward(losses, lse, logits.contiguous().reshape(r, v),
                targets.contiguous().reshape(r), ignoreIndex);
        return new CrossEntropyResult(losses.reshape(rowShape), lse);
    }

    /** dlogits (..., V) from the per-row loss gradient dlosses (...). */
    public static Tensor crossEntropyBackward(Tensor dlosses, Tensor logits, Tensor lse, Tensor targets,
            long ignoreIndex) {
        long v = logits.shape().last();
        long r = logits.numel() / Math.max(1, v);
        Tensor dlogits = Tensor.empty(Shape.of(r, v), logits.dtype(), logits.device());
        Backends.of(logits).loss().crossEntropyBackward(dlogits, dlosses.contiguous().reshape(r),
                logits.contiguous().reshape(r, v), lse, targets.contiguous().reshape(r), ignoreIndex);
        return dlogits.reshape(logits.shape());
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
