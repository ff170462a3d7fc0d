package ai.fulgur.ops.optim;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Checks;
import ai.fulgur.ops.Tensor;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/** In-place optimizer updates over the backend's {@link OptimKernels}. */
public final class Optim {
    private Optim() {}

    /** One Adam/AdamW step, in place on w, m and v. */
    public static void adamUpdate(Tensor w, Tensor g, Tensor m, Tensor v, AdamParams p) {
        for (var named : new Object[][] {{"g", g}, {"m", m}, {"v", v}}) {
            Tensor t = (Tensor) named[1];
            Checks.sameShape("adamUpdate", "w", w, (String) named[0], t);
            Checks.sameDevice("adamUpdate", "w", w, (String) named[0], t);
        }
        requireContiguous("adamUpdate", w, m, v);
        Backends.of(w).optim().adamUpdate(w, g.contiguous(), m, v, p);
    }

    /**
     * One Adam/AdamW step whose lr, step size (lr / bc1) and √bc2 are read from {@code step} (F32, 3 elements, on w's
     * device) when the kernel runs; see {@link OptimKernels#adamUpdateWithStepScalars}.
     */
    public static void adamUpdate(Tensor w, Tensor g, Tensor m, Tensor v, AdamParams p, Tensor step) {
        for (var named : new Object[][] {{"g", g}, {"m", m}, {"v", v}, {"step", step}}) {
            Tensor t = (Tensor) named[1];
            if (t != step) {
                Checks.sameShape("adamUpdate", "w", w, (String) named[0], t);
            }
            Checks.sameDevice("adamUpdate", "w", w, (String) named[0], t);
        }
        if (step.dtype() != ai.fulgur.ops.DType.F32 || step.numel() != 3 || !step.isContiguous()) {
            throw new IllegalArgumentException("adamUpdate: step scalars must be a contiguous F32 tensor of 3 elements "
                    + "{lr, lr/bc1, sqrt(bc2)}, got " + Checks.describe("step", step));
        }
        requireContiguous("adamUpdate", w, m, v);
        Backends.of(w).optim().adamUpdateWithStepScalars(w, g.contiguous(), m, v, p, step);
    }

    /**
     * One Adam/AdamW step on every group (see {@link OptimKernels#adamUpdateMany}): on a GPU one launch for all of
     * them. The groups must be on one device, each with matching shapes, and share no updated tensor.
     */
    public static void adamUpdateMany(List<AdamGroup> groups, AdamParams p) {
        if (!groups.isEmpty()) {
            List<AdamGroup> checked = checkGroups(groups, null);
            Backends.of(checked.get(0).w()).optim().adamUpdateMany(checked, p);
        }
    }

    /**
     * {@link #adamUpdateMany} with lr, step size (lr / bc1) and √bc2 read from {@code step} (F32, 3 elements, on the
     * groups' device) when the kernel runs; see {@link OptimKernels#adamUpdateManyWithStepScalars}.
     */
    public static void adamUpdateMany(List<AdamGroup> groups, AdamParams p, Tensor step) {
        if (!groups.isEmpty()) {
            List<AdamGroup> checked = checkGroups(groups, step);
            Backends.of(checked.get(0).w()).optim().adamUpdateManyWithStepScalars(checked, p, step);
        }
    }

    /** The groups with contiguous gradients, after checking shapes, devices, contiguity and that none share a tensor. */
    private static List<AdamGroup> checkGroups(List<AdamGroup> groups, Tensor step) {
        Tensor first = groups.get(0).w();
        if (step != null) {
            Checks.sameDevice("adamUpdateMany", "group 0 w", first, "step", step);
            if (step.dtype() != ai.fulgur.ops.DType.F32 || step.numel() != 3 || !step.isContiguous()) {
                throw new IllegalArgumentException("adamUpdateMany: step scalars must be a contiguous F32 tensor of 3 "
                        + "elements {lr, lr/bc1, sqrt(bc2)}, got " + Checks.describe("step", step));
            }
        }
        // updated tensors may share a storage (a flat parameter arena) but never overlap: elements [offset, end)
        Map<Object, List<long[]>> ranges = new IdentityHashMap<>();
        List<AdamGroup> out = new ArrayList<>(groups.size());
        for (int i = 0; i < groups.size(); i++) {
            AdamGroup t = groups.get(i);
            String op = "adamUpdateMany group " + i;
            for (var named : new Object[][] {{"g", t.g()}, {"m", t.m()}, {"v", t.v()}}) {
                Tensor x = (Tensor) named[1];
                Checks.sameShape(op, "w", t.w(), (String) named[0], x);
                Checks.sameDevice(op, "w", t.w(), (String) named[0], x);
            }
            Checks.sameDevice("adamUpdateMany", "group 0 w", first, "group " + i + " w", t.w());
            requireContiguous(op, t.w(), t.m(), t.v());
            for (Tensor x : new Tensor[] {t.w(), t.m(), t.v()}) {
                long start = x.offset();
                long end = start + x.numel();
                for (long[] r : ranges.computeIfAbsent(x.storage(), k -> new ArrayList<>())) {
                    if (start < r[1] && r[0] < end && x.numel() > 0) {
                        throw new IllegalArgumentException("adamUpdateMany: group " + i + " updates elements ["
                                + start + ", " + end + ") of a storage whose elements [" + r[0] + ", " + r[1]
                                + ") group " + r[2] + " updates too; each group needs its own w, m and v");
                    }
                }
                ranges.get(x.storage()).add(new long[] {start, end, i});
            }
            Tensor g = t.g().contiguous();
            out.add(g == t.g() ? t : new AdamGroup(t.w(), g, t.m(), t.v(), t.decay()));
        }
        return out;
    }

    /** One SGD (with optional momentum) step, in place on w and state. */
    public static void sgdUpdate(Tensor w, Tensor g, Tensor state, double lr, double weightDecay, double momentum,
            double rescaleGrad, double clipGrad) {
        Checks.sameShape("sgdUpdate", "w", w, "g", g);
        if (momentum != 0) {
            if (state == null) {
                throw new IllegalArgumentException("sgdUpdate: momentum " + momentum + " needs a state tensor");
            }
            Checks.sameShape("sgdUpdate", "w", w, "state", state);
            requireContiguous("sgdUpdate", w, state);
        } else {
            requireContiguous("sgdUpdate", w);
        }
        Backends.of(w).optim().sgdUpdate(w, g.contiguous(), state, lr, weightDecay, momentum, rescaleGrad, clipGrad);
    }

    private static void requireContiguous(String op, Tensor... ts) {
        for (Tensor t : ts) {
            if (!t.isContiguous()) {
                throw new IllegalArgumentException(op + ": updated tensor " + Checks.describe("t", t)
                        + " must be contiguous");
            }
        }
    }
}
