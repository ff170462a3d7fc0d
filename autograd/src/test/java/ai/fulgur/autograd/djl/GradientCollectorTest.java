package ai.fulgur.autograd.djl;

import static ai.fulgur.autograd.djl.DjlTestSupport.assertClose;
import static ai.fulgur.autograd.djl.DjlTestSupport.assertValues;
import static ai.fulgur.autograd.djl.DjlTestSupport.normal;
import static ai.fulgur.autograd.djl.DjlTestSupport.values;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * DJL's gradient semantics on the Fulgur engine (DJL_ENGINE.md §4): one open collector, ones as the seed of a
 * non-scalar target, accumulation across backward calls and collectors until an optimizer update or zeroGradients,
 * gradient arrays that share storage with the parameter's gradient, no recording without a collector, stopGradient,
 * and gradients equal to the PyTorch engine's.
 */
class GradientCollectorTest {
    private NDManager fu;
    private NDManager pt;

    @BeforeEach
    void open() {
        fu = DjlTestSupport.fulgurManager();
        pt = DjlTestSupport.torchManager();
    }

    @AfterEach
    void close() {
        fu.close();
        pt.close();
    }

    /** A FLOAT32 parameter with normal values that requires a gradient. */
    private static NDArray param(NDManager m, long seed, long... shape) {
        NDArray p = normal(m, seed, shape);
        p.setRequiresGradient(true);
        return p;
    }

    private static GradientCollector collector(NDArray a) {
        return a.getManager().getEngine().newGradientCollector();
    }

    @Test
    void onlyOneCollectorIsOpenAtATime() {
        Engine e = DjlTestSupport.fulgur();
        try (GradientCollector first = e.newGradientCollector()) {
            IllegalStateException ex = assertThrows(IllegalStateException.class, e::newGradientCollector);
            assertTrue(ex.getMessage().contains("already open"), ex.getMessage());
        }
        try (GradientCollector again = e.newGradientCollector()) {
            assertTrue(FulgurGradientCollector.isRecording(), "closing the first one freed the slot");
        }
        assertFalse(FulgurGradientCollector.isRecording());
    }

    @Test
    void nonScalarTargetIsSeededWithOnes() {
        NDArray xt = param(pt, 1, 2, 1);
        NDArray xf = param(fu, 1, 2, 1);
        for (NDArray x : List.of(xt, xf)) {
            try (GradientCollector gc = collector(x)) {
                gc.backward(x.mul(x).mul(3)); // (2, 1): dy/dx = 6x, seeded with ones
            }
        }
        assertClose("gradient of 3x² for x (2, 1)", xt.getGradient(), xf.getGradient());
        assertValues("6x", values(xf.mul(6)), values(xf.getGradient()), 1e-6, 1e-6);
    }

    @Test
    void gradientsAccumulateAcrossBackwardCallsAndCollectors() {
        NDArray xt = param(pt, 2, 3);
        NDArray x = param(fu, 2, 3);
        Function<NDArray, NDArray> f = a -> a.mul(a).sum(); // gradient 2x
        for (NDArray a : List.of(xt, x)) {
            try (GradientCollector gc = collector(a)) {
                gc.backward(f.apply(a));
                gc.backward(f.apply(a)); // a second graph in the same collector: 4x
            }
            try (GradientCollector gc = collector(a)) {
                gc.backward(f.apply(a)); // and another collector: 6x
            }
        }
        assertClose("three backward calls, two collectors", xt.getGradient(), x.getGradient());
        assertValues("6x", values(x.mul(6)), values(x.getGradient()), 1e-6, 1e-6);

        try (GradientCollector gc = collector(x)) {
            gc.zeroGradients();
        }
        assertValues("after zeroGradients", new double[3], values(x.getGradient()), 0, 0);
    }

    @Test
    void anOptimizerUpdateZeroesTheGradient() {
        Optimizer sgd = Optimizer.sgd().setLearningRateTracker(Tracker.fixed(0.1f)).build();
        NDArray xt = param(pt, 3, 4);
        NDArray x = param(fu, 3, 4);
        for (NDArray a : List.of(xt, x)) {
            try (GradientCollector gc = collector(a)) {
                gc.backward(a.mul(a).sum());
            }
            sgd.update("x", a, a.getGradient().duplicate()); // LocalParameterServer passes a copy
            assertValues(a.getManager().getEngine().getEngineName() + ": gradient after the update", new double[4],
                    values(a.getGradient()), 0, 0);
            try (GradientCollector gc = collector(a)) {
                gc.backward(a.sum()); // starts again from zero: ones
            }
        }
        assertClose("w − 0.1·2w", xt, x);
        assertClose("gradient after the update and one more backward", xt.getGradient(), x.getGradient());
        assertValues("ones", new double[] {1, 1, 1, 1}, values(x.getGradient()), 0, 0);
    }

    @Test
    void getGradientIsZerosFirstAndSharesStorage() {
        NDArray x = param(fu, 4, 2, 2);
        NDArray early = x.getGradient();
        assertValues("gradient before any backward", new double[4], values(early), 0, 0);
        try (GradientCollector gc = collector(x)) {
            gc.backward(x.mul(5).sum());
        }
        assertValues("an array obtained before backward sees the gradient", new double[] {5, 5, 5, 5},
                values(early), 0, 0);
        early.close(); // the ParameterServer closes gradient arrays; the gradient itself survives
        assertValues("after closing a gradient array", new double[] {5, 5, 5, 5}, values(x.getGradient()), 0, 0);

        NDArray plain = fu.create(new float[] {1, 2});
        IllegalStateException e = assertThrows(IllegalStateException.class, plain::getGradient);
        assertTrue(e.getMessage().contains("setRequiresGradient"), e.getMessage());
        assertFalse(plain.hasGradient());
        assertTrue(x.hasGradient());
    }

    @Test
    void nothingIsRecordedWithoutAnOpenCollector() {
        NDArray x = param(fu, 5, 3);
        NDArray y = x.mul(2).add(1).sum();
        assertTrue(((FulgurNDArray) y).variable().isLeaf(), "an op outside a collector must not record");
        assertFalse(((FulgurNDArray) y).variable().requiresGrad());
        try (GradientCollector gc = collector(x)) {
            assertThrows(IllegalStateException.class, () -> gc.backward(y),
                    "backward through a result computed outside the collector");
            NDArray z = x.mul(2).sum();
            assertFalse(((FulgurNDArray) z).variable().isLeaf(), "ops inside a collector record");
            gc.backward(z);
        }
        NDArray after = x.mul(3);
        assertTrue(((FulgurNDArray) after).variable().isLeaf(), "closing the collector stops recording");
        assertValues("gradient from the recorded op only", new double[] {2, 2, 2}, values(x.getGradient()), 0, 0);
    }

    @Test
    void stopGradientCutsTheGraph() {
        NDArray xt = param(pt, 6, 3);
        NDArray x = param(fu, 6, 3);
        for (NDArray a : List.of(xt, x)) {
            try (GradientCollector gc = collector(a)) {
                NDArray cut = a.stopGradient();
                assertFalse(cut.hasGradient());
                gc.backward(cut.mul(a).sum()); // d/da (c·a) with c = a held constant: c = a, not 2a
            }
        }
        assertClose("gradient through stopGradient", xt.getGradient(), x.getGradient());
        assertValues("equals x", values(x), values(x.getGradient()), 1e-6, 1e-6);
        NDArray shared = x.stopGradient();
        x.addi(1);
        assertValues("stopGradient shares the data", values(x), values(shared), 0, 0);
    }

    @Test
    void compositeExpressionGradientsMatchPyTorch() {
        NDArray[] losses = new NDArray[2];
        NDArray[][] params = new NDArray[2][];
        NDManager[] managers = {pt, fu};
        for (int k = 0; k < 2; k++) {
            NDManager m = managers[k];
            NDArray x = param(m, 7, 4, 3);
            NDArray w = param(m, 8, 3, 5);
            NDArray b = param(m, 9, 5);
            NDArray gamma = param(m, 10, 4, 1);
            params[k] = new NDArray[] {x, w, b, gamma};
            try (GradientCollector gc = m.getEngine().newGradientCollector()) {
                NDArray h = x.matMul(w).add(b).tanh(); // (4, 5)
                NDArray s = h.softmax(-1).mul(gamma.exp()); // broadcast (4, 1)
                NDArray r = s.sub(h.mean(new int[] {0}, true)).square().div(x.abs().add(1).sum(new int[] {1}, true));
                NDArray loss = r.logSoftmax(1).get(":, 1:4").max(new int[] {1}).sum()
                        .add(x.transpose().reshape(-1).get("2:7").pow(2).sum());
                gc.backward(loss);
                losses[k] = loss;
            }
        }
        assertClose("loss", losses[0], losses[1]);
        String[] names = {"x", "w", "b", "gamma"};
        for (int i = 0; i < names.length; i++) {
            assertClose("gradient of " + names[i], params[0][i].getGradient(), params[1][i].getGradient());
        }
    }

    @Test
    void backwardFreesTheGraphAndCatchesInPlaceChanges() {
        NDArray x = param(fu, 12, 3);
        try (GradientCollector gc = collector(x)) {
            NDArray y = x.mul(x).sum();
            gc.backward(y);
            assertThrows(IllegalStateException.class, () -> gc.backward(y), "a second backward through a freed graph");
        }
        try (GradientCollector gc = collector(x)) {
            NDArray y = x.mul(x).sum(); // saves x for backward
            x.addi(1);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> gc.backward(y));
            assertTrue(e.getMessage().contains("in place"), e.getMessage());
        }
    }

    @Test
    void theSameArrayUsedTwiceGetsBothContributions() {
        NDArray xt = param(pt, 11, 2, 3);
        NDArray x = param(fu, 11, 2, 3);
        for (NDArray a : List.of(xt, x)) {
            try (GradientCollector gc = collector(a)) {
                gc.backward(a.mul(a.exp()).add(a.sum(new int[] {0}, true)).reshape(new Shape(6)).sum());
            }
        }
        assertClose("gradient of x·eˣ + column sums", xt.getGradient(), x.getGradient());
    }
}
