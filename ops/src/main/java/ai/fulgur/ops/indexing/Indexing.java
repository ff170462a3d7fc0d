package ai.fulgur.ops.indexing;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Checks;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import java.util.List;

/** Embedding lookups, index selection, gather and their scatter-add adjoints; concatenation and stacking. */
public final class Indexing {
    private Indexing() {}

    /** weight (V, C) looked up at indices (...): result (..., C). */
    public static Tensor embeddingForward(Tensor weight, Tensor indices) {
        Checks.rank("embedding", "weight", weight, 2);
        return indexSelect(weight, 0, indices);
    }

    /** The gradient of the table: zeros (V, C) with each row of dout (..., C) added at its index (scatter-add). */
    public static Tensor embeddingBackward(Tensor dout, Tensor indices, Shape weightShape) {
        Tensor dweight = Tensor.zeros(weightShape, dout.dtype(), dout.device());
        indexAddInto(dweight, 0, indices, dout);
        return dweight;
    }

    /**
     * Slices of x along {@code axis} at {@code index} (any shape): the result has x's shape with that axis replaced by
     * index's shape (numpy's {@code take} along an axis).
     */
    public static Tensor indexSelect(Tensor x, int axis, Tensor index) {
        Checks.index("indexSelect", "index", index);
        Checks.sameDevice("indexSelect", "x", x, "index", index);
        int a = x.shape().axis(axis);
        Checks.indicesInRange("indexSelect", "index", index, x.shape().dim(a));
        long p = x.shape().slice(0, a).numel();
        long q = x.shape().slice(a + 1, x.rank()).numel();
        long n = index.numel();
        Tensor out = Tensor.empty(Shape.of(p, n, q), x.dtype(), x.device());
        Backends.of(x).indexing().indexSelect(out, x.contiguous().reshape(p, x.shape().dim(a), q),
                index.contiguous().reshape(n), 1);
        long[] dims = x.shape().slice(0, a).concat(index.shape().dims()).concat(
                x.shape().slice(a + 1, x.rank()).dims()).dims();
        return out.reshape(dims);
    }

    /** dx += src scattered along {@code axis} at {@code index}: the adjoint of {@link #indexSelect}. */
    public static void indexAddInto(Tensor dx, int axis, Tensor index, Tensor src) {
        Checks.index("indexAdd", "index", index);
        Checks.sameDtype("indexAdd", "dx", dx, "src", src);
        int a = dx.shape().axis(axis);
        Checks.indicesInRange("indexAdd", "index", index, dx.shape().dim(a));
        if (!dx.isContiguous()) {
            throw new IllegalArgumentException("indexAdd: " + Checks.describe("dx", dx) + " must be contiguous");
        }
        long p = dx.shape().slice(0, a).numel();
        long q = dx.shape().slice(a + 1, dx.rank()).numel();
        long n = index.numel();
        if (src.numel() != p * n * q) {
            throw new IllegalArgumentException("indexAdd: " + Checks.describe("src", src) + " does not match "
                    + Checks.describe("dx", dx) + " with " + n + " indices along axis " + a);
        }
        Backends.of(dx).indexing().indexAdd(dx.reshape(p, dx.shape().dim(a), q), src.contiguous().reshape(p, n, q),
                index.contiguous().reshape(n), 1);
    }

    /** torch.gather: out[..., j, ...] = x[..., index[..., j, ...], ...] along {@code axis}; out has index's shape. */
    public static Tensor gather(Tensor x, int axis, Tensor index) {
        Checks.index("gather", "index", index);
        Checks.sameDevice("gather", "x", x, "index", index);
        int a = x.shape().axis(axis);
        if (index.rank() != x.rank()) {
            throw new IllegalArgumentException("gather: " + Checks.describe("index", index) + " must have the rank of "
                    + Checks.describe("x", x));
        }
        for (int i = 0; i < x.rank(); i++) {
            if (i != a && index.shape().dim(i) > x.shape().dim(i)) {
                throw new IllegalArgumentException("gather: " + Checks.describe("index", index) + " is larger than "
                        + Checks.describe("x", x) + " on axis " + i);
            }
        }
        Checks.indicesInRange("gather", "index", index, x.shape().dim(a));
        Tensor out = Tensor.empty(index.shape(), x.dtype(), x.device());
        Backends.of(x).indexing().gather(out, x.contiguous(), index.contiguous(), a);
        return out;
    }

    /** The adjoint of {@link #gather}: zeros of {@code shape} with src added at index along axis. */
    public static Tensor scatterAdd(Shape shape, int axis, Tensor index, Tensor src) {
        Checks.index("scatterAdd", "index", index);
        Checks.sameDevice("scatterAdd", "src", src, "index", index);
        Checks.sameShape("scatterAdd", "index", index, "src", src);
        int a = shape.axis(axis);
        if (index.rank() != shape.rank()) {
            throw new IllegalArgumentException("scatterAdd: " + Checks.describe("index", index)
                    + " must have the rank of the target shape " + shape);
        }
        for (int i = 0; i < shape.rank(); i++) {
            if (i != a && index.shape().dim(i) > shape.dim(i)) {
                throw new IllegalArgumentException("scatterAdd: " + Checks.describe("index", index)
                        + " is larger than the target shape " + shape + " on axis " + i);
            }
        }
        // the kernel adds at index · stride: an index past the axis would land, unreported, in a neighbouring row
        Checks.indicesInRange("scatterAdd", "index", index, shape.dim(a));
        Tensor dx = Tensor.zeros(shape, src.dtype(), src.device());
        Backends.of(src).indexing().scatterAdd(dx, src.contiguous(), index.contiguous(), shape.axis(axis));
        return dx;
    }

    /** Joins tensors of equal shape but for {@code axis} along that axis. */
    public static Tensor concat(List<Tensor> parts, int axis) {
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("concat: needs at least one tensor");
        }
        Tensor first = parts.get(0);
        int a = first.shape().axis(axis);
        long total = 0;
        for (int i = 0; i < parts.size(); i++) {
            Tensor t = parts.get(i);
            Checks.sameDevice("concat", "parts[0]", first, "parts[" + i + "]", t);
            Checks.sameDtype("concat", "parts[0]", first, "parts[" + i + "]", t);
            if (t.rank() != first.rank() || !t.shape().with(a, 1).equals(first.shape().with(a, 1))) {
                throw new IllegalArgumentException("concat along axis " + a + ": " + Checks.describe("parts[" + i + "]", t)
                        + " does not match " + Checks.describe("parts[0]", first) + " outside that axis");
            }
            total += t.shape().dim(a);
        }
        Tensor out = Tensor.empty(first.shape().with(a, total), first.dtype(), first.device());
        long at = 0;
        for (Tensor t : parts) {
            long n = t.shape().dim(a);
            if (n > 0) {
                Elementwise.assign(out.slice(a, at, at + n), t);
            }
            at += n;
        }
        return out;
    }

    /** Stacks tensors of equal shape along a new axis. */
    public static Tensor stack(List<Tensor> parts, int axis) {
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("stack: needs at least one tensor");
        }
        int rank = parts.get(0).rank();
        int a = axis < 0 ? axis + rank + 1 : axis;
        for (int i = 1; i < parts.size(); i++) {
            Checks.sameShape("stack", "parts[0]", parts.get(0), "parts[" + i + "]", parts.get(i));
        }
        return concat(parts.stream().map(t -> t.unsqueeze(a)).toList(), a);
    }
}
