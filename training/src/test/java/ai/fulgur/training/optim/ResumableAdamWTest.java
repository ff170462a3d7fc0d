package ai.fulgur.training.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.Pair;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ResumableAdamWTest {
    private static final float LR = 0.05f;
    private static final float DECAY = 0.1f;

    private static Block linear(NDManager m) {
        Block b = Linear.builder().setUnits(3).build();
        b.initialize(m, DataType.FLOAT32, new Shape(2, 4));
        return b;
    }

    /** The gradient of parameter p at update t: fixed, varied numbers so each step moves the moments. */
    private static NDArray grad(NDManager m, Parameter p, int t) {
        Shape s = p.getArray().getShape();
        float[] g = new float[(int) s.size()];
        for (int i = 0; i < g.length; i++) {
            g[i] = (float) Math.sin(0.7 * i + 1.3 * t) * (1 + t % 3);
        }
        return m.create(g, s);
    }

    private static void run(ResumableAdamW opt, Block b, NDManager m, int from, int to) {
        for (int t = from; t < to; t++) {
            for (Pair<String, Parameter> p : b.getParameters()) {
                opt.update(p.getValue().getId(), p.getValue().getArray(), grad(m, p.getValue(), t));
            }
        }
    }

    private static ResumableAdamW.Builder builder() {
        return ResumableAdamW.builder().optLearningRateTracker(Tracker.fixed(LR)).optWeightDecays(DECAY);
    }

    /** Three updates equal PyTorch's AdamW algorithm written out in float64; the bias is excluded from decay. */
    @Test
    void equalsTheAdamWFormula() {
        try (NDManager m = NDManager.newBaseManager("Fulgur")) {
            Block b = linear(m);
            ResumableAdamW opt = builder().build();
            opt.excludeFromDecay(b, "bias");
            List<Parameter> params = b.getParameters().values();
            double[][] w = new double[params.size()][];
            for (int k = 0; k < params.size(); k++) {
                w[k] = toDouble(params.get(k).getArray().toFloatArray());
            }
            run(opt, b, m, 0, 3);
            for (int k = 0; k < params.size(); k++) {
                Parameter p = params.get(k);
                boolean decayed = !b.getParameters().keys().get(k).endsWith("bias");
                double[] mom = new double[w[k].length];
                double[] var = new double[w[k].length];
                for (int t = 0; t < 3; t++) {
                    float[] g = grad(m, p, t).toFloatArray();
                    int step = t + 1;
                    for (int i = 0; i < g.length; i++) {
                        w[k][i] -= decayed ? LR * DECAY * w[k][i] : 0;
                        mom[i] = 0.9 * mom[i] + 0.1 * g[i];
                        var[i] = 0.999 * var[i] + 0.001 * g[i] * g[i];
                        double mhat = mom[i] / (1 - Math.pow(0.9, step));
                        double vhat = var[i] / (1 - Math.pow(0.999, step));
                        w[k][i] -= LR * mhat / (Math.sqrt(vhat) + 1e-8);
                    }
                }
                float[] got = p.getArray().toFloatArray();
                for (int i = 0; i < got.length; i++) {
                    assertEquals(w[k][i], got[i], 2e-5, b.getParameters().keys().get(k) + "[" + i + "]");
                }
            }
            assertEquals(3, opt.step());
        }
    }

    /** 3 updates, export, a fresh optimizer and model restored from the export, 3 more == 6 updates at once. */
    @Test
    void resumingFromExportedStateContinuesExactly() {
        try (NDManager m = NDManager.newBaseManager("Fulgur")) {
            Block straight = linear(m);
            Block resumed = linear(m);
            copyWeights(straight, resumed);
            ResumableAdamW first = builder().optLearningRateTracker(Tracker.cosine().setBaseValue(LR)
                    .optFinalValue(0.001f).setMaxUpdates(6).build()).build();
            run(first, straight, m, 0, 6);

            ResumableAdamW before = builder().optLearningRateTracker(Tracker.cosine().setBaseValue(LR)
                    .optFinalValue(0.001f).setMaxUpdates(6).build()).build();
            run(before, resumed, m, 0, 3);
            Map<String, NDArray> state = before.exportState(resumed);
            assertEquals(4, state.size());
            Block restored = linear(m);
            copyWeights(resumed, restored);
            ResumableAdamW after = builder().optBeginStep(before.step()).optLearningRateTracker(Tracker.cosine()
                    .setBaseValue(LR).optFinalValue(0.001f).setMaxUpdates(6).build()).build();
            after.importState(restored, state, m);
            run(after, restored, m, 3, 6);
            for (int k = 0; k < straight.getParameters().size(); k++) {
                assertArrayEquals(straight.getParameters().get(k).getValue().getArray().toFloatArray(),
                        restored.getParameters().get(k).getValue().getArray().toFloatArray(), 0f);
            }
            assertEquals(6, after.step());
        }
    }

    @Test
    void stateOfAnotherModelIsRefusedNamingTheTensor() {
        try (NDManager m = NDManager.newBaseManager("Fulgur")) {
            Block b = linear(m);
            ResumableAdamW opt = builder().build();
            var bad = Map.of("exp_avg/nope", m.zeros(new Shape(1)), "exp_avg_sq/nope", m.zeros(new Shape(1)));
            var e = assertThrows(IllegalArgumentException.class, () -> opt.importState(b, bad, m));
            assertEquals(true, e.getMessage().contains("nope"), e.getMessage());
        }
    }

    private static void copyWeights(Block from, Block to) {
        for (int k = 0; k < from.getParameters().size(); k++) {
            to.getParameters().get(k).getValue().getArray().set(
                    from.getParameters().get(k).getValue().getArray().toByteBuffer());
        }
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /**
     * Reading lr and the bias correction from a device array (as a CUDA graph replay does) gives the bits of the
     * launch-argument path, with a schedule whose lr changes every update.
     */
    @Test
    void stepScalarsFromAnArrayGiveTheSameUpdates() {
        try (NDManager m = NDManager.newBaseManager("Fulgur")) {
            Tracker schedule = Tracker.cosine().setBaseValue(LR).optFinalValue(LR / 10).setMaxUpdates(5).build();
            ai.djl.engine.Engine.getEngine("Fulgur").setRandomSeed(3);
            Block plainBlock = linear(m);
            ai.djl.engine.Engine.getEngine("Fulgur").setRandomSeed(3);
            Block scalarBlock = linear(m);
            ResumableAdamW plain = builder().optLearningRateTracker(schedule).build();
            ResumableAdamW fromArray = builder().optLearningRateTracker(schedule).build();
            NDArray scalars = m.zeros(new Shape(3), DataType.FLOAT32);
            fromArray.readStepScalarsFrom(scalars);
            for (int t = 1; t <= 4; t++) {
                run(plain, plainBlock, m, t, t + 1);
                m.create(fromArray.stepScalars(t)).copyTo(scalars);
                run(fromArray, scalarBlock, m, t, t + 1);
            }
            for (int i = 0; i < 2; i++) {
                assertArrayEquals(plainBlock.getParameters().get(i).getValue().getArray().toFloatArray(),
                        scalarBlock.getParameters().get(i).getValue().getArray().toFloatArray(),
                        "parameter " + i + " after 4 updates");
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> fromArray.readStepScalarsFrom(m.zeros(new Shape(2), DataType.FLOAT32)));
            assertEquals(true, e.getMessage().contains("(2)"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> fromArray.stepScalars(0));
        }
    }
}
