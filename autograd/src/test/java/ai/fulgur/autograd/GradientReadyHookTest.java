package ai.fulgur.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.autograd.functions.Recompute;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.elementwise.UnaryOp;
import ai.fulgur.ops.testing.TestTensors;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Gradient-ready hooks: each runs once per backward pass, right after the leaf's last contribution (a leaf used
 * twice, or inside and outside a recomputed block, waits for both), in the order the pass finishes the leaves (the
 * last layer's first, while earlier layers still wait), not for leaves the pass does not reach, and again in a pass
 * after one that failed.
 */
class GradientReadyHookTest {
    private final SplittableRandom rnd = new SplittableRandom(3);

    private Tensor randn(long... shape) {
        return TestTensors.normal(rnd, DType.F64, shape);
    }

    @Test
    void aLeafUsedTwiceIsReadyOnceWithItsWholeGradient() {
        Tensor xv = randn(4);
        Variable x = Variable.parameter(xv);
        List<double[]> seen = new ArrayList<>();
        x.addGradientReadyHook(leaf -> seen.add(leaf.grad().toDoubleArray()));
        x.mul(x).add(x).sum().backward(); // d/dx (x² + x) = 2x + 1
        assertEquals(1, seen.size());
        double[] expected = new double[4];
        for (int i = 0; i < 4; i++) {
            expected[i] = 2 * xv.toDoubleArray()[i] + 1;
        }
        assertArrayEquals(expected, seen.get(0), 1e-12, "the hook sees the complete gradient");
    }

    @Test
    void laterLayersAreReadyWhileEarlierOnesStillWait() {
        // y = w3·(w2·(w1·x)): backward reaches w3 first, w1 last
        Variable x = Variable.constant(randn(3, 3));
        Variable w1 = Variable.parameter(randn(3, 3));
        Variable w2 = Variable.parameter(randn(3, 3));
        Variable w3 = Variable.parameter(randn(3, 3));
        List<String> events = new ArrayList<>();
        for (var named : List.of(java.util.Map.entry("w1", w1), java.util.Map.entry("w2", w2),
                java.util.Map.entry("w3", w3))) {
            named.getValue().addGradientReadyHook(leaf -> events.add(named.getKey()
                    + (w1.grad() == null ? " (w1 pending)" : " (w1 done)")));
        }
        w3.matmul(w2.matmul(w1.matmul(x))).sum().backward();
        assertEquals(List.of("w3 (w1 pending)", "w2 (w1 pending)", "w1 (w1 done)"), events);
    }

    @Test
    void unreachedLeavesGetNoCallAndEveryPassCallsAgain() {
        Variable used = Variable.parameter(randn(2));
        Variable unused = Variable.parameter(randn(2));
        int[] calls = new int[2];
        used.addGradientReadyHook(leaf -> calls[0]++);
        unused.addGradientReadyHook(leaf -> calls[1]++);
        used.mul(used).sum().backward();
        used.sum().backward();
        assertEquals(2, calls[0]);
        assertEquals(0, calls[1]);
        assertNull(unused.grad());
    }

    @Test
    void aRecomputedBlockAndAnOuterUseAreBothWaitedFor() {
        Tensor xv = randn(5);
        Tensor wv = randn(5);
        Variable x = Variable.constant(xv);
        Variable w = Variable.parameter(wv);
        List<double[]> seen = new ArrayList<>();
        w.addGradientReadyHook(leaf -> seen.add(leaf.grad().toDoubleArray()));
        // (x·w)·w, the inner product recomputed in backward: d/dw = 2·x·w
        Variable inner = Recompute.apply(v -> v.mul(w), x, new Variable[] {w}, () -> () -> { });
        inner.mul(w).sum().backward();
        assertEquals(1, seen.size(), "one call, after the inner backward and the outer use");
        double[] expected = new double[5];
        for (int i = 0; i < 5; i++) {
            expected[i] = 2 * xv.toDoubleArray()[i] * wv.toDoubleArray()[i];
        }
        assertArrayEquals(expected, seen.get(0), 1e-12);
    }

    @Test
    void aFailedPassDoesNotSilenceLaterOnes() {
        Variable w = Variable.parameter(randn(3));
        int[] calls = {0};
        w.addGradientReadyHook(leaf -> calls[0]++);
        Variable loss = w.mul(w).sum();
        Elementwise.unaryInPlace(UnaryOp.MUL_SCALAR, w.data(), 0.5);
        w.bumpVersion(); // the saved w changed: this backward fails
        assertThrows(IllegalStateException.class, loss::backward);
        assertEquals(0, calls[0]);
        w.mul(w).sum().backward();
        assertEquals(1, calls[0]);
    }

    @Test
    void hooksCanBeRemovedAndOnlyLeavesTakeThem() {
        Variable w = Variable.parameter(randn(2));
        int[] calls = {0};
        GradientReadyHook hook = leaf -> calls[0]++;
        w.addGradientReadyHook(hook);
        assertTrue(w.removeGradientReadyHook(hook));
        assertFalse(w.removeGradientReadyHook(hook));
        w.sum().backward();
        assertEquals(0, calls[0]);
        Variable y = w.mul(w);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> y.addGradientReadyHook(hook));
        assertTrue(e.getMessage().contains("leaves"), e.getMessage());
    }
}
