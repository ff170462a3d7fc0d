package ai.fulgur.ops.linalg;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Checks;
import ai.fulgur.ops.RowPitched;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;

/** Matrix products with torch.matmul's shape rules, over the backend's {@link LinalgKernels}. */
public final class Linalg {
    private Linalg() {}

    /**
     * Matrix product with torch.matmul semantics: 1-D operands are promoted to a row (a) or column (b) and the added
     * axis removed from the result; leading (batch) axes broadcast. a (..., M, K) · b (..., K, N) = (..., M, N).
     */
    public static Tensor matmul(Tensor a, Tensor b) {
        Checks.sameDevice("matmul", "a", a, "b", b);
        Checks.sameDtype("matmul", "a", a, "b", b);
        Checks.floating("matmul", "a", a);
        if (a.rank() == 0 || b.rank() == 0) {
            throw new IllegalArgumentException("matmul: operands must have rank >= 1, got " + Checks.describe("a", a)
                    + ", " + Checks.describe("b", b));
        }
        Tensor a2 = a.rank() == 1 ? a.unsqueeze(0) : a;
        Tensor b2 = b.rank() == 1 ? b.unsqueeze(1) : b;
        long m = a2.shape().dim(-2);
        long k = a2.shape().dim(-1);
        long kb = b2.shape().dim(-2);
        long n = b2.shape().dim(-1);
        if (k != kb) {
            throw new IllegalArgumentException("matmul: inner dimensions differ: " + Checks.describe("a", a) + " has K="
                    + k + ", " + Checks.describe("b", b) + " has K=" + kb);
        }
        Shape batchA = a2.shape().slice(0, a2.rank() - 2);
        Shape batchB = b2.shape().slice(0, b2.rank() - 2);
        Shape batch = Shape.broadcast("matmul", batchA, batchB);
        Tensor out3 = Tensor.empty(Shape.of(batch.numel(), m, n), a.dtype(), a.device());
        Tensor a3 = asBatch3(a2, batch, batchA);
        Tensor b3 = asBatch3(b2, batch, batchB);
        boolean transA = isTransposedRows(a3);
        boolean transB = isTransposedRows(b3);
        Backends.of(a).linalg().matmul(out3, transA ? a3.transpose(1, 2) : rows3(a3),
                transB ? b3.transpose(1, 2) : rows3(b3), transA, transB, 1, false);
        Shape outShape = batch.concat(m, n);
        if (a.rank() == 1) {
            outShape = outShape.without(-2);
        }
        if (b.rank() == 1) {
            outShape = outShape.without(-1);
        }
        return out3.reshape(outShape);
    }

    /**
     * out (B, M, N) (+)= op(a) · op(b) on 3-D operands whose batch dims already agree (or are 1 with stride 0); the
     * low-level entry that autograd backward passes use to accumulate without temporaries.
     */
    public static void matmulInto(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, boolean accumulate) {
        if (!isRows3(out)) {
            throw new IllegalArgumentException("matmulInto: " + Checks.describe("out", out) + " must be stored by rows"
                    + " (unit last stride, row stride at least " + out.shape().dim(2) + ", batch stride rows * row "
                    + "stride)");
        }
        Backends.of(out).linalg().matmul(out, rows3(a), rows3(b), transA, transB, 1, accumulate);
    }

    /**
     * A linear layer with a fused epilogue: y (..., out) = epilogue(x (..., in) · weightᵀ [+ bias]), weight (out, in),
     * bias (out) exactly when {@code epilogue.hasBias()}; DJL's {@code Linear} with {@link LinearEpilogue#BIAS}. See
     * {@link LinalgKernels#linear} for the arithmetic.
     */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias, LinearEpilogue epilogue) {
        long outFeatures = checkLinear(x, weight, bias, epilogue);
        long in = weight.shape().dim(1);
        long rows = x.shape().numel() / Math.max(1, in);
        // the backend may want the rows padded (CUDA: a large product whose rows are not 16-byte multiples); the
        // result is then a row-pitched view, which matmul and cross-entropy take in place (not with a GELU, whose
        // composed fallback wants contiguous rows)
        long pitch = epilogue.hasGelu() ? outFeatures
                : Backends.of(x).linalg().outputRowPitch(x.dtype(), rows, outFeatures, in);
        Tensor out = RowPitched.empty(x.shape().with(-1, outFeatures), x.dtype(), x.device(), pitch);
        linearInto(out, x, weight, bias, epilogue, null);
        return out;
    }

    /**
     * {@link #linear} into {@code out} (..., out features), contiguous or row-pitched ({@link RowPitched}); with a GELU
     * epilogue, {@code preActivation} (same shape as out, contiguous) may receive x·Wᵀ + b before the GELU, for the
     * backward.
     */
    public static void linearInto(Tensor out, Tensor x, Tensor weight, Tensor bias, LinearEpilogue epilogue,
            Tensor preActivation) {
        String op = "linear";
        long outFeatures = checkLinear(x, weight, bias, epilogue);
        Shape expected = x.shape().with(-1, outFeatures);
        checkOutput(op, "out", out, expected, x, false);
        if (preActivation != null) {
            if (!epilogue.hasGelu()) {
                throw new IllegalArgumentException(op + ": a preActivation output is only written with a GELU "
                        + "epilogue, got " + epilogue);
            }
            checkOutput(op, "preActivation", preActivation, expected, x, true);
        }
        long in = weight.shape().dim(1);
        long rows = x.shape().numel() / Math.max(1, in);
        Backends.of(x).linalg().linear(RowPitched.rowsView(out), x.contiguous().reshape(rows, in),
                weight.contiguous(), bias == null ? null : bias.contiguous(), epilogue,
                preActivation == null ? null : preActivation.reshape(rows, outFeatures));
    }

    /** Validates linear's operands; returns the out features. */
    private static long checkLinear(Tensor x, Tensor weight, Tensor bias, LinearEpilogue epilogue) {
        String op = "linear";
        Checks.rank(op, "weight", weight, 2);
        Checks.sameDevice(op, "input", x, "weight", weight);
        Checks.sameDtype(op, "input", x, "weight", weight);
        Checks.floating(op, "input", x);
        long in = weight.shape().dim(1);
        long outFeatures = weight.shape().dim(0);
        if (x.rank() == 0 || x.shape().last() != in) {
            throw new IllegalArgumentException(op + ": " + Checks.describe("input", x) + " must end in " + in
                    + " features to match " + Checks.describe("weight", weight));
        }
        if (epilogue.hasBias() != (bias != null)) {
            throw new IllegalArgumentException(op + ": epilogue " + epilogue + (epilogue.hasBias()
                    ? " needs a bias of shape (" + outFeatures + "), got none"
                    : " takes no bias, got " + Checks.describe("bias", bias) + "; use BIAS or GELU_BIAS"));
        }
        if (bias != null) {
            Checks.sameDevice(op, "input", x, "bias", bias);
            Checks.sameDtype(op, "input", x, "bias", bias);
            Checks.shape(op, "bias", bias, Shape.of(outFeatures));
        }
        return outFeatures;
    }

    /** Shape, device and dtype of an output; contiguous, or else (unless {@code contiguous}) row-pitched. */
    private static void checkOutput(String op, String name, Tensor t, Shape expected, Tensor x, boolean contiguous) {
        Checks.shape(op, name, t, expected);
        Checks.sameDevice(op, "input", x, name, t);
        Checks.sameDtype(op, "input", x, name, t);
        if (contiguous ? !t.isContiguous() : RowPitched.rowsView(t) == null) {
            throw new IllegalArgumentException(op + ": " + Checks.describe(name, t) + " must be contiguous"
                    + (contiguous ? "" : " or row-pitched (unit last stride, rows a uniform pitch apart)"));
        }
    }

    /** t viewed as (B, rows, cols); a single matrix is shared over the batch with stride 0, without a copy. */
    private static Tensor asBatch3(Tensor t, Shape batch, Shape own) {
        long rows = t.shape().dim(-2);
        long cols = t.shape().dim(-1);
        if (own.numel() == 1) {
            Tensor m = t;
            while (m.rank() > 2) {
                m = m.select(0, 0);
            }
            return new Tensor(m.storage(), Shape.of(batch.numel(), rows, cols),
                    new long[] {0, m.stride(0), m.stride(1)}, m.offset());
        }
        if (own.equals(batch) && t.rank() == 3) {
            return t;
        }
        return t.expand(batch.concat(rows, cols)).reshape(batch.numel(), rows, cols);
    }

    /**
     * True if the last two axes of a 3-D view are a transposed matrix stored by rows: strides (.., 1, ld) with
     * ld ≥ rows (ld = rows: a transposed contiguous matrix; more: a transposed row-pitched one, such as the logits'
     * gradient in a vocabulary head's weight gradient).
     */
    private static boolean isTransposedRows(Tensor t) {
        long rows = t.shape().dim(1);
        long cols = t.shape().dim(2);
        return rows > 1 && cols > 1 && t.stride(1) == 1 && t.stride(2) >= rows
                && (t.shape().dim(0) == 1 || t.stride(0) == 0 || t.stride(0) == cols * t.stride(2));
    }

    /**
     * Whether a 3-D view is in the layout the kernel takes: matrices stored by rows (unit last stride, row stride at
     * least the row length: contiguous or row-pitched), batch stride 0 or rows · row stride.
     */
    private static boolean isRows3(Tensor t) {
        long rows = t.shape().dim(1);
        long cols = t.shape().dim(2);
        long ld = rows <= 1 ? cols : t.stride(1);
        boolean matrixOk = (t.stride(2) == 1 || cols == 1) && ld >= cols;
        boolean batchOk = t.shape().dim(0) == 1 || t.stride(0) == 0 || t.stride(0) == rows * ld;
        return matrixOk && batchOk;
    }

    /** A 3-D operand in the layout the kernel takes ({@link #isRows3}), copied to contiguous only when it is not. */
    private static Tensor rows3(Tensor t) {
        return isRows3(t) ? t : t.contiguous();
    }
}
