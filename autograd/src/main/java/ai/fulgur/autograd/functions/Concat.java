package ai.fulgur.autograd.functions;

import ai.fulgur.autograd.Function;
import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.indexing.Indexing;
import java.util.List;

/** Joins tensors along an axis (stack is concat of unsqueezed inputs). Backward slices the gradient apart. */
public final class Concat extends Function {
    private final int axis;
    private final long[] sizes;

    private Concat(int axis, long[] sizes) {
        this.axis = axis;
        this.sizes = sizes;
    }

    public static Variable apply(List<Variable> parts, int axis) {
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("concat: needs at least one tensor");
        }
        Tensor out = Indexing.concat(parts.stream().map(Variable::data).toList(), axis);
        int a = parts.get(0).shape().axis(axis);
        long[] sizes = parts.stream().mapToLong(v -> v.shape().dim(a)).toArray();
        return new Concat(a, sizes).record(out, parts.toArray(Variable[]::new));
    }

    /** Stacks equal-shaped tensors along a new axis. */
    public static Variable stack(List<Variable> parts, int axis) {
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("stack: needs at least one tensor");
        }
        int rank = parts.get(0).shape().rank();
        int a = axis < 0 ? axis + rank + 1 : axis;
        return apply(parts.stream().map(v -> StridedView.apply(v, t -> t.unsqueeze(a), "unsqueeze")).toList(), a);
    }

    @Override
    protected Tensor[] backward(Tensor g) {
        Tensor[] grads = new Tensor[sizes.length];
        long at = 0;
        for (int i = 0; i < sizes.length; i++) {
            grads[i] = needsGrad(i) ? g.slice(axis, at, at + sizes[i]).contiguous() : null;
            at += sizes[i];
        }
        return grads;
    }
}
