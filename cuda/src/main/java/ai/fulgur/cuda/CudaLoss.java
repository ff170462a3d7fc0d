package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.RowPitched;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.loss.LossKernels;

/**
 * Fused cross-entropy on the GPU (crossentropy.cu): one block per row of logits (R, V), the row read once with 16-byte
 * loads; F32, BF16 and F16 logits accumulate in float (losses and lse F32), F64 in double. The softmax is never
 * stored: the backward recomputes it from the saved logsumexp. Logits and dlogits rows are read and written at their
 * own row strides (a row-pitched vocabulary head's output in place), the pad past each row untouched.
 *
 * <p>Targets are checked on the device (the facade checks host tensors only): a target that is neither the ignore
 * index nor in [0, V) reads nothing out of bounds and makes its row's loss NaN in the forward and every element of
 * its dlogits row NaN in the backward.
 */
final class CudaLoss implements LossKernels {
    private static final String MODULE = "crossentropy";

    private static String suffix(DType logits) {
        return switch (logits) {
            case F32 -> "f32";
            case BF16 -> "bf16";
            case F16 -> "f16";
            case F64 -> "f64";
            default -> throw new IllegalArgumentException("cross-entropy logits must be F32, BF16, F16 or F64, got "
                    + logits);
        };
    }

    /** Threads per row: enough for about four 16-byte loads each, a multiple of 32 in [32, 512]. */
    static int threadsFor(long v, DType logits) {
        long vectors = (v * logits.byteSize() + 15) / 16;
        long threads = (vectors + 3) / 4;
        threads = (threads + 31) / 32 * 32;
        return (int) Math.max(32, Math.min(512, threads));
    }

    private static void checkIndex(String what, Tensor t) {
        if (t.dtype() != DType.I32 && t.dtype() != DType.I64) {
            throw new IllegalArgumentException("cross-entropy " + what + " must be I32 or I64, got " + t.dtype());
        }
    }

    // losses (R), lse (R): F32 for half logits, else the logits' dtype; logits (R, V), row stride ≥ V; targets (R)
    @Override
    public void crossEntropyForward(Tensor losses, Tensor lse, Tensor logits, Tensor targets, long ignoreIndex) {
        checkIndex("targets", targets);
        DType outType = logits.dtype().isHalf() ? DType.F32 : logits.dtype();
        if (losses.dtype() != outType || lse.dtype() != outType) {
            throw new IllegalArgumentException("cross-entropy of " + logits.dtype() + " logits writes " + outType
                    + " losses and lse, got " + losses.dtype() + " and " + lse.dtype());
        }
        long r = logits.shape().rows();
        long v = logits.shape().last();
        CudaDevice d = CudaTensors.device(logits);
        d.launch(MODULE, "crossentropy_forward_" + suffix(logits.dtype()), Math.min(r, Integer.MAX_VALUE),
                threadsFor(v, logits.dtype()), 0, CudaTensors.first(losses), CudaTensors.first(lse),
                CudaTensors.first(logits), rowStride(logits), CudaTensors.first(targets), targets.dtype().ordinal(), r,
                v, ignoreIndex);
    }

    // dlogits (R, V) and logits (R, V), each at its row stride ≥ V; dlosses (R), lse (R), targets (R)
    @Override
    public void crossEntropyBackward(Tensor dlogits, Tensor dlosses, Tensor logits, Tensor lse, Tensor targets,
            long ignoreIndex) {
        checkIndex("targets", targets);
        if (dlogits.dtype() != logits.dtype()) {
            throw new IllegalArgumentException("cross-entropy backward: dlogits must have the logits' dtype "
                    + logits.dtype() + ", got " + dlogits.dtype());
        }
        if (!dlosses.dtype().isFloating() || !lse.dtype().isFloating()) {
            throw new IllegalArgumentException("cross-entropy backward: dlosses and lse must be floating, got "
                    + dlosses.dtype() + " and " + lse.dtype());
        }
        long r = logits.shape().rows();
        long v = logits.shape().last();
        CudaDevice d = CudaTensors.device(logits);
        d.launch(MODULE, "crossentropy_backward_" + suffix(logits.dtype()), Math.min(r, Integer.MAX_VALUE),
                threadsFor(v, logits.dtype()), 0, CudaTensors.first(dlogits), rowStride(dlogits),
                CudaTensors.first(dlosses), dlosses.dtype().ordinal(), CudaTensors.first(logits), rowStride(logits),
                CudaTensors.first(lse), lse.dtype().ordinal(), CudaTensors.first(targets), targets.dtype().ordinal(),
                r, v, ignoreIndex);
    }

    /** The row stride of an (R, V) tensor stored by rows, checked: unit last stride, rows at least V apart. */
    private static long rowStride(Tensor rows) {
        if (rows.rank() != 2 || (rows.shape().dim(1) > 1 && rows.stride(1) != 1)
                || RowPitched.pitch(rows) < rows.shape().dim(1)) {
            throw new IllegalArgumentException("cross-entropy takes (R, V) rows with unit stride along V and a row "
                    + "stride of at least V, got shape " + rows.shape() + " strides "
                    + java.util.Arrays.toString(rows.strides()));
        }
        return RowPitched.pitch(rows);
    }
}
