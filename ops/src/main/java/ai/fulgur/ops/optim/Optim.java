package ai.fulgur.ops.optim;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Checks;
import ai.fulgur.ops.Tensor;

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
