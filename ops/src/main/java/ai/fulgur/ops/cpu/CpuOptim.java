package ai.fulgur.ops.cpu;

import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.optim.AdamParams;
import ai.fulgur.ops.optim.OptimKernels;

/** Optimizer updates on the host, in place, elements in parallel. */
public final class CpuOptim implements OptimKernels {
    private static final int GRAIN = 1 << 14;

    @Override
    public void adamUpdate(Tensor w, Tensor g, Tensor m, Tensor v, AdamParams p) {
        CpuStorage ws = w.cpu();
        CpuStorage gs = g.cpu();
        CpuStorage ms = m.cpu();
        CpuStorage vs = v.cpu();
        int wo = (int) w.offset();
        int go = (int) g.offset();
        int mo = (int) m.offset();
        int vo = (int) v.offset();
        double stepSize = p.lr() / p.bc1();
        double sqrtBc2 = Math.sqrt(p.bc2());
        CpuParallel.forRange((int) w.numel(), GRAIN, (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                double wi = ws.get(wo + i);
                double gi = clip(gs.get(go + i) * p.rescaleGrad(), p.clipGrad());
                if (!p.decoupled()) {
                    gi += p.weightDecay() * wi;
                }
                double mi = p.beta1() * ms.get(mo + i) + (1 - p.beta1()) * gi;
                double vi = p.beta2() * vs.get(vo + i) + (1 - p.beta2()) * gi * gi;
                if (p.decoupled()) {
                    wi -= p.lr() * p.weightDecay() * wi;
                }
                wi -= stepSize * mi / (Math.sqrt(vi) / sqrtBc2 + p.eps());
                ms.set(mo + i, mi);
                vs.set(vo + i, vi);
                ws.set(wo + i, wi);
            }
        });
    }

    @Override
    public void sgdUpdate(Tensor w, Tensor g, Tensor state, double lr, double weightDecay, double momentum,
            double rescaleGrad, double clipGrad) {
        CpuStorage ws = w.cpu();
        CpuStorage gs = g.cpu();
        CpuStorage ss = state == null ? null : state.cpu();
        int wo = (int) w.offset();
        int go = (int) g.offset();
        int so = state == null ? 0 : (int) state.offset();
        CpuParallel.forRange((int) w.numel(), GRAIN, (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                double wi = ws.get(wo + i);
                double gi = clip(gs.get(go + i) * rescaleGrad, clipGrad) + weightDecay * wi;
                if (momentum != 0) {
                    gi = momentum * ss.get(so + i) + gi;
                    ss.set(so + i, gi);
                }
                ws.set(wo + i, wi - lr * gi);
            }
        });
    }

    private static double clip(double g, double clipGrad) {
        return clipGrad < 0 ? g : Math.max(-clipGrad, Math.min(clipGrad, g));
    }
}
