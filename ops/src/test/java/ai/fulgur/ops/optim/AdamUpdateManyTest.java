package ai.fulgur.ops.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.testing.TestTensors;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link Optim#adamUpdateMany} on the CPU: the same bits as one {@link Optim#adamUpdate} per tensor (weight decay 0
 * where a group's decay flag is off), with the step scalars from a tensor as {@link OptimKernels#adamUpdateWithStepScalars}
 * reads them, over several steps; bad groups are refused naming the group.
 */
class AdamUpdateManyTest {
    private static final long[] SIZES = {1, 3, 1023, 4097, 0, 768};

    private static Tensor[] group(SplittableRandom rnd, long n, DType g) {
        return new Tensor[] {TestTensors.uniform(rnd, DType.F32, -2, 2, n), TestTensors.uniform(rnd, g, -3, 3, n),
                TestTensors.uniform(rnd, DType.F32, -0.5, 0.5, n), TestTensors.uniform(rnd, DType.F32, 0, 0.3, n)};
    }

    private static Tensor[] copies(Tensor[] t) {
        return new Tensor[] {t[0].copy(), t[1].copy(), t[2].copy(), t[3].copy()};
    }

    @Test
    void manyEqualsOneUpdatePerTensorWithDecayFlags() {
        SplittableRandom rnd = new SplittableRandom(7);
        List<Tensor[]> one = new ArrayList<>();
        List<Tensor[]> many = new ArrayList<>();
        List<AdamGroup> groups = new ArrayList<>();
        for (int i = 0; i < SIZES.length; i++) {
            Tensor[] t = group(rnd, SIZES[i], i == 2 ? DType.BF16 : DType.F32);
            one.add(t);
            Tensor[] c = copies(t);
            many.add(c);
            groups.add(new AdamGroup(c[0], c[1], c[2], c[3], i % 2 == 0));
        }
        for (int step = 1; step <= 3; step++) {
            AdamParams p = AdamParams.torch(1e-2 * step, 0.9, 0.95, 1e-8, 0.1, true, step);
            for (int i = 0; i < SIZES.length; i++) {
                Tensor[] t = one.get(i);
                Optim.adamUpdate(t[0], t[1], t[2], t[3], i % 2 == 0 ? p : p.withWeightDecay(0));
            }
            Optim.adamUpdateMany(groups, p);
        }
        for (int i = 0; i < SIZES.length; i++) {
            for (int k : new int[] {0, 2, 3}) {
                assertArrayEquals(one.get(i)[k].toDoubleArray(), many.get(i)[k].toDoubleArray(),
                        "tensor " + i + " (n=" + SIZES[i] + ") component " + "wgmv".charAt(k));
            }
        }
    }

    @Test
    void stepScalarsFromATensorEqualTheLaunchArguments() {
        SplittableRandom rnd = new SplittableRandom(8);
        Tensor[] a = group(rnd, 1023, DType.F32);
        Tensor[] b = copies(a);
        AdamParams constants = new AdamParams(0, 0.9, 0.999, 1e-8, 0.05, true, 1, 1, 1, -1);
        for (int t = 1; t <= 3; t++) {
            float lr = 1e-3f * t;
            float[] s = {lr, (float) (lr / (1 - Math.pow(0.9, t))), (float) Math.sqrt(1 - Math.pow(0.999, t))};
            Tensor step = Tensor.of(s, 3);
            Optim.adamUpdate(a[0], a[1], a[2], a[3], constants, step);
            Optim.adamUpdateMany(List.of(new AdamGroup(b[0], b[1], b[2], b[3], true)), constants, step);
        }
        assertArrayEquals(a[0].toDoubleArray(), b[0].toDoubleArray());
        assertArrayEquals(a[3].toDoubleArray(), b[3].toDoubleArray());
    }

    @Test
    void badGroupsAreRefusedNamingTheGroup() {
        AdamParams p = AdamParams.torch(1e-3, 0.9, 0.999, 1e-8, 0, true, 1);
        Tensor w = Tensor.zeros(Shape.of(4), DType.F32, Device.CPU);
        Tensor m = Tensor.zeros(Shape.of(4), DType.F32, Device.CPU);
        Tensor v = Tensor.zeros(Shape.of(4), DType.F32, Device.CPU);
        Tensor g5 = Tensor.zeros(Shape.of(5), DType.F32, Device.CPU);
        Tensor g4 = Tensor.zeros(Shape.of(4), DType.F32, Device.CPU);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Optim.adamUpdateMany(
                List.of(new AdamGroup(w, g4, m, v, true), new AdamGroup(w.copy(), g5, m.copy(), v.copy(), true)), p));
        assertTrue(e.getMessage().contains("group 1"), e.getMessage());
        // two groups updating the same moments
        e = assertThrows(IllegalArgumentException.class, () -> Optim.adamUpdateMany(
                List.of(new AdamGroup(w, g4, m, v, true), new AdamGroup(w.copy(), g4, m, v.copy(), true)), p));
        assertTrue(e.getMessage().contains("group 1") && e.getMessage().contains("group 0"), e.getMessage());
        // disjoint slices of one storage are fine (a flat parameter arena)
        Tensor arena = Tensor.zeros(Shape.of(8), DType.F32, Device.CPU);
        Optim.adamUpdateMany(List.of(new AdamGroup(arena.slice(0, 0, 4), g4, m, v, true),
                new AdamGroup(arena.slice(0, 4, 8), g4, m.copy(), v.copy(), true)), p);
        e = assertThrows(IllegalArgumentException.class, () -> Optim.adamUpdateMany(
                List.of(new AdamGroup(w, g4, m, v, true)), p, Tensor.zeros(Shape.of(2), DType.F32, Device.CPU)));
        assertTrue(e.getMessage().contains("3 elements"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new AdamGroup(w, null, m, v, true));
        Optim.adamUpdateMany(List.of(), p); // nothing to do
        assertEquals(0.0, w.toDoubleArray()[0]);
    }
}
