package ai.fulgur.ops.cpu;

import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.norm.NormKernels;

/** Layer norm on the host, llm.c style: per-row mean and rstd saved, rows in parallel, math in double. */
public final class CpuNorm implements NormKernels {

    // y (R, C), mean (R), rstd (R), x (R, C), gamma (C) or null, beta (C) or null
    @Override
    public void layerNormForward(Tensor y, Tensor mean, Tensor rstd, Tensor x, Tensor gamma, Tensor beta, double eps) {
        CpuStorage ys = y.cpu();
        CpuStorage ms = mean.cpu();
        CpuStorage rs = rstd.cpu();
        CpuStorage xs = x.cpu();
        CpuStorage gs = gamma == null ? null : gamma.cpu();
        CpuStorage bs = beta == null ? null : beta.cpu();
        int c = (int) x.shape().last();
        int xo = (int) x.offset();
        int yo = (int) y.offset();
        int go = gamma == null ? 0 : (int) gamma.offset();
        int bo = beta == null ? 0 : (int) beta.offset();
        CpuParallel.forRange((int) x.shape().rows(), Math.max(1, 8192 / Math.max(1, c)), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xi = xo + r * c;
                double m = 0;
                for (int j = 0; j < c; j++) {
                    m += xs.get(xi + j);
                }
                m /= c;
                double var = 0;
                for (int j = 0; j < c; j++) {
                    double d = xs.get(xi + j) - m;
                    var += d * d;
                }
                var /= c;
                double s = 1 / Math.sqrt(var + eps);
                for (int j = 0; j < c; j++) {
                    double v = (xs.get(xi + j) - m) * s;
                    if (gs != null) {
                        v *= gs.get(go + j);
                    }
                    if (bs != null) {
                        v += bs.get(bo + j);
                    }
                    ys.set(yo + r * c + j, v);
                }
                ms.set((int) mean.offset() + r, m);
                rs.set((int) rstd.offset() + r, s);
            }
        });
    }

    // dx (R, C); dgamma, dbeta (C) or null; dy, x (R, C); mean, rstd (R); gamma (C) or null
    @Override
    public void layerNormBackward(Tensor dx, Tensor dgamma, Tensor dbeta, Tensor dy, Tensor x, Tensor mean,
            Tensor rstd, Tensor gamma) {
        CpuStorage dxs = dx.cpu();
        CpuStorage dys = dy.cpu();
        CpuStorage xs = x.cpu();
        CpuStorage ms = mean.cpu();
        CpuStorage rs = rstd.cpu();
        CpuStorage gs = gamma == null ? null : gamma.cpu();
        int c = (int) x.shape().last();
        int rows = (int) x.shape().rows();
        int xo = (int) x.offset();
        int dyo = (int) dy.offset();
        int dxo = (int) dx.offset();
        int go = gamma == null ? 0 : (int) gamma.offset();
        // dx = rstd · (g − mean(g) − xhat · mean(g · xhat)) with g = dy · gamma
        CpuParallel.forRange(rows, Math.max(1, 8192 / Math.max(1, c)), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                double m = ms.get((int) mean.offset() + r);
                double s = rs.get((int) rstd.offset() + r);
                double meanG = 0;
                double meanGx = 0;
                for (int j = 0; j < c; j++) {
                    double g = dys.get(dyo + r * c + j) * (gs == null ? 1 : gs.get(go + j));
                    double xhat = (xs.get(xo + r * c + j) - m) * s;
                    meanG += g;
                    meanGx += g * xhat;
                }
                meanG /= c;
                meanGx /= c;
                for (int j = 0; j < c; j++) {
                    double g = dys.get(dyo + r * c + j) * (gs == null ? 1 : gs.get(go + j));
                    double xhat = (xs.get(xo + r * c + j) - m) * s;
                    dxs.set(dxo + r * c + j, s * (g - meanG - xhat * meanGx));
                }
            }
        });
        if (dgamma != null || dbeta != null) {
            // column sums over rows: dgamma = Σ dy · xhat, dbeta = Σ dy; parallel over columns
            CpuStorage dgs = dgamma == null ? null : dgamma.cpu();
            CpuStorage dbs = dbeta == null ? null : dbeta.cpu();
            CpuParallel.forRange(c, 64, (j0, j1) -> {
                for (int j = j0; j < j1; j++) {
                    double sg = 0;
                    double sb = 0;
                    for (int r = 0; r < rows; r++) {
                        double d = dys.get(dyo + r * c + j);
                        double xhat = (xs.get(xo + r * c + j) - ms.get((int) mean.offset() + r))
                                * rs.get((int) rstd.offset() + r);
                        sg += d * xhat;
                        sb += d;
                    }
                    if (dgs != null) {
                        dgs.set((int) dgamma.offset() + j, sg);
                    }
                    if (dbs != null) {
                        dbs.set((int) dbeta.offset() + j, sb);
                    }
                }
            });
        }
    }
}
