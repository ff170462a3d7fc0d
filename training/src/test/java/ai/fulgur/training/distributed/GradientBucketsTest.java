package ai.fulgur.training.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.autograd.Variable;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.distributed.Communicator;
import ai.fulgur.ops.distributed.PendingCollective;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.elementwise.UnaryOp;
import ai.fulgur.ops.testing.TestTensors;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link GradientBuckets} in one process against a stand-in second rank whose every gradient element is
 * {@value #OTHER}: the layout (reverse registration order, size cap, one dtype per bucket), all-reduces that start
 * while the backward pass still runs (seen in the order of hook calls and collective calls), the mean against a
 * float64 formula and bit for bit against the non-overlapped {@link DataParallel#averageGradients} path, an unused
 * parameter (its zeros are reduced), and accumulation over two backward passes (reduced once).
 */
class GradientBucketsTest {
    private static final double OTHER = 0.75;
    private static final long FLOAT = 4;

    /** Rank 0 of two; rank 1's tensors are all {@value #OTHER}. Logs every collective into {@code events}. */
    private static final class TwoRanks implements Communicator {
        final List<String> events;
        final List<Tensor> started = new ArrayList<>();

        TwoRanks(List<String> events) {
            this.events = events;
        }

        @Override public int rank() { return 0; }
        @Override public int size() { return 2; }

        @Override
        public void allReduceSum(Tensor t) {
            events.add("sum " + t.numel());
            Elementwise.unaryInPlace(UnaryOp.ADD_SCALAR, t, OTHER);
        }

        @Override
        public PendingCollective startAllReduceSum(Tensor t) {
            int k = indexOf(t);
            events.add("start " + k);
            Elementwise.unaryInPlace(UnaryOp.ADD_SCALAR, t, OTHER);
            return () -> events.add("await " + k);
        }

        /** Buckets are persistent: the same tensor each step, so its number is stable. */
        private int indexOf(Tensor t) {
            for (int i = 0; i < started.size(); i++) {
                if (started.get(i) == t) {
                    return i;
                }
            }
            started.add(t);
            return started.size() - 1;
        }

        @Override public void broadcast(Tensor t, int root) { throw new AssertionError("no broadcast here"); }
        @Override public void close() { }
    }

    /** x → w1 → w2 → w3 → w4 (3×3 matrices), a loss of the last; each weight is 36 bytes. */
    private static final class Chain {
        final Tensor input;
        final List<Variable> weights = new ArrayList<>();

        Chain(long seed, int layers) {
            SplittableRandom rnd = new SplittableRandom(seed);
            input = TestTensors.normal(rnd, DType.F32, 3, 3);
            for (int i = 0; i < layers; i++) {
                weights.add(Variable.parameter(TestTensors.normal(rnd, DType.F32, 3, 3)));
            }
        }

        Variable loss() {
            Variable h = Variable.constant(input);
            for (Variable w : weights) {
                h = w.matmul(h);
            }
            return h.mul(h).sum();
        }

        /** Each weight's gradient of one loss, by the tape without any buckets (the reference). */
        static List<double[]> gradients(long seed, int layers) {
            Chain c = new Chain(seed, layers);
            c.loss().backward();
            List<double[]> out = new ArrayList<>();
            for (Variable w : c.weights) {
                out.add(w.grad().toDoubleArray());
            }
            return out;
        }
    }

    @Test
    void bucketsFollowReverseRegistrationOrderUpToTheSizeCap() {
        SplittableRandom rnd = new SplittableRandom(1);
        Variable a = Variable.parameter(TestTensors.normal(rnd, DType.F32, 4));       // 16 bytes
        Variable b = Variable.parameter(TestTensors.normal(rnd, DType.F32, 10));      // 40 bytes: alone
        Variable c = Variable.parameter(TestTensors.normal(rnd, DType.F64, 2));       // other dtype
        Variable d = Variable.parameter(TestTensors.normal(rnd, DType.F32, 3));       // 12 bytes
        Variable e = Variable.parameter(TestTensors.normal(rnd, DType.F32, 2));       // 8 bytes
        Variable frozen = Variable.constant(TestTensors.normal(rnd, DType.F32, 5));
        try (GradientBuckets buckets = new GradientBuckets(new TwoRanks(new ArrayList<>()),
                List.of(a, b, c, frozen, d, e), 32)) {
            // reversed: e, d fill the first F32 bucket (20 bytes); c opens an F64 one; b (40) does not fit: alone;
            // a opens a fourth
            assertArrayEquals(new long[] {5, 2, 10, 4}, buckets.bucketElements());
            assertEquals(0, buckets.bucketOf(e));
            assertEquals(0, buckets.bucketOf(d));
            assertEquals(1, buckets.bucketOf(c));
            assertEquals(2, buckets.bucketOf(b));
            assertEquals(3, buckets.bucketOf(a));
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> buckets.bucketOf(frozen));
            assertTrue(x.getMessage().contains("not in these buckets"), x.getMessage());
        }
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> new GradientBuckets(new TwoRanks(new ArrayList<>()), List.of(a), 0));
        assertTrue(bad.getMessage().contains("got 0"), bad.getMessage());
    }

    @Test
    void bucketsStartWhileTheBackwardPassStillRuns() {
        List<String> events = new ArrayList<>();
        Chain chain = new Chain(2, 4);
        for (int i = 0; i < 4; i++) {
            // added before the buckets' hooks, so each "ready" is logged before the start it may cause
            String name = "ready w" + (i + 1);
            chain.weights.get(i).addGradientReadyHook(leaf -> events.add(name));
        }
        // two weights per bucket: bucket 0 = {w4, w3}, bucket 1 = {w2, w1}
        try (GradientBuckets buckets = new GradientBuckets(new TwoRanks(events), chain.weights, 2 * 9 * FLOAT)) {
            assertEquals(2, buckets.bucketCount());
            chain.loss().backward();
            events.add("backward returned");
            assertEquals(2, buckets.startedBuckets());
            buckets.awaitMean();
            assertEquals(0, buckets.startedBuckets(), "the next step starts from bucket 0");
        }
        // bucket 0's sum starts as soon as w3 is final, before backward has reached w2 and w1
        assertEquals(List.of("ready w4", "ready w3", "start 0", "ready w2", "ready w1", "start 1",
                "backward returned", "await 0", "await 1"), events);
    }

    @Test
    void theMeanMatchesTheFormulaAndTheNonOverlappedPathBitForBit() {
        List<double[]> local = Chain.gradients(3, 4);
        Chain chain = new Chain(3, 4);
        try (GradientBuckets buckets = new GradientBuckets(new TwoRanks(new ArrayList<>()), chain.weights,
                9 * FLOAT)) {
            chain.loss().backward();
            buckets.awaitMean();
        }
        Chain after = new Chain(3, 4);
        after.loss().backward();
        new DataParallel(new TwoRanks(new ArrayList<>())).averageGradients(
                after.weights.stream().map(Variable::grad).toList());
        for (int i = 0; i < 4; i++) {
            double[] got = chain.weights.get(i).grad().toDoubleArray();
            double[] expected = new double[got.length];
            for (int j = 0; j < got.length; j++) {
                expected[j] = (local.get(i)[j] + OTHER) / 2;
            }
            assertMean(expected, got, "mean gradient of w" + (i + 1));
            assertArrayEquals(after.weights.get(i).grad().toFloatArray(), chain.weights.get(i).grad().toFloatArray(),
                    "w" + (i + 1) + ": overlapped and after-backward paths differ");
        }
    }

    @Test
    void anUnusedParameterContributesZerosAndGetsTheMean() {
        List<String> events = new ArrayList<>();
        Chain chain = new Chain(4, 2);
        Variable unused = Variable.parameter(TestTensors.normal(new SplittableRandom(9), DType.F32, 7));
        List<Variable> params = new ArrayList<>(chain.weights);
        params.add(0, unused); // registered first, so reduced last, in a bucket of its own
        try (GradientBuckets buckets = new GradientBuckets(new TwoRanks(events), params, 9 * FLOAT)) {
            assertEquals(3, buckets.bucketCount());
            chain.loss().backward();
            events.add("backward returned");
            assertEquals(2, buckets.startedBuckets(), "the unused parameter's bucket waits for awaitMean");
            buckets.awaitMean();
        }
        assertEquals(List.of("start 0", "start 1", "backward returned", "start 2", "await 0", "await 1", "await 2"),
                events);
        float[] g = unused.grad().toFloatArray();
        for (float v : g) {
            assertEquals((float) (OTHER / 2), v, 0f, "the unused parameter's gradient is (0 + other rank's) / 2");
        }
    }

    @Test
    void accumulationReducesOnlyAfterTheLastMicroBatch() {
        List<String> events = new ArrayList<>();
        List<double[]> once = Chain.gradients(5, 3);
        Chain chain = new Chain(5, 3);
        try (GradientBuckets buckets = new GradientBuckets(new TwoRanks(events), chain.weights, 9 * FLOAT)) {
            buckets.reduceDuringBackward(false);
            chain.loss().backward();
            events.add("micro-batch 1 done");
            buckets.reduceDuringBackward(true);
            chain.loss().backward();
            events.add("micro-batch 2 done");
            buckets.awaitMean();
            // the next step starts clean: one more pass reduces again
            for (Variable w : chain.weights) {
                w.zeroGrad();
            }
            chain.loss().backward();
            buckets.awaitMean();
        }
        assertEquals(List.of("micro-batch 1 done", "start 0", "start 1", "start 2", "micro-batch 2 done",
                "await 0", "await 1", "await 2", "start 0", "start 1", "start 2", "await 0", "await 1", "await 2"),
                events);
        for (int i = 0; i < 3; i++) {
            // the last step: one pass, so (g + other) / 2
            double[] got = chain.weights.get(i).grad().toDoubleArray();
            double[] expected = new double[got.length];
            for (int j = 0; j < got.length; j++) {
                expected[j] = (once.get(i)[j] + OTHER) / 2;
            }
            assertMean(expected, got, "w" + (i + 1));
        }
    }

    @Test
    void accumulatedPassesSumBeforeTheReduction() {
        List<double[]> once = Chain.gradients(6, 2);
        Chain chain = new Chain(6, 2);
        try (GradientBuckets buckets = new GradientBuckets(new TwoRanks(new ArrayList<>()), chain.weights,
                1 << 20)) {
            buckets.reduceDuringBackward(false);
            chain.loss().backward();
            buckets.reduceDuringBackward(true);
            chain.loss().backward();
            buckets.awaitMean();
        }
        for (int i = 0; i < 2; i++) {
            double[] got = chain.weights.get(i).grad().toDoubleArray();
            double[] expected = new double[got.length];
            for (int j = 0; j < got.length; j++) {
                expected[j] = (2 * once.get(i)[j] + OTHER) / 2;
            }
            assertMean(expected, got, "w" + (i + 1));
        }
    }

    @Test
    void aSecondReducingPassInOneStepIsRefused() {
        Chain chain = new Chain(7, 2);
        try (GradientBuckets buckets = new GradientBuckets(new TwoRanks(new ArrayList<>()), chain.weights,
                1 << 20)) {
            chain.loss().backward();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> chain.loss().backward());
            assertTrue(e.getMessage().contains("reduceDuringBackward(false)"), e.getMessage());
        }
    }

    @Test
    void gradientsAreViewsOfTheBucketsAndAReplacedOneIsTakenBack() {
        Chain chain = new Chain(8, 2);
        Tensor before = Elementwise.full(chain.weights.get(0).shape(), 2, DType.F32, ai.fulgur.ops.Device.CPU);
        chain.weights.get(0).setGrad(before);
        try (GradientBuckets buckets = new GradientBuckets(new TwoRanks(new ArrayList<>()), chain.weights,
                1 << 20)) {
            Tensor view = chain.weights.get(0).grad();
            assertTrue(view != before, "the gradient is now the bucket's view");
            assertArrayEquals(before.toFloatArray(), view.toFloatArray(), "holding the old gradient's values");
            assertSame(view.storage(), chain.weights.get(1).grad().storage(), "one bucket, one storage");
            chain.weights.get(1).setGrad(null); // someone dropped it: the hook puts the view back
            chain.loss().backward();
            buckets.awaitMean();
            assertSame(view.storage(), chain.weights.get(1).grad().storage());
        }
    }

    private static void assertMean(double[] expected, double[] got, String what) {
        assertEquals(expected.length, got.length, what);
        for (int j = 0; j < got.length; j++) {
            assertEquals(expected[j], got[j], 1e-6 * (1 + Math.abs(expected[j])), what + "[" + j + "]");
        }
    }
}
