package ai.fulgur.training.nn;

import static ai.fulgur.training.nn.NnTestSupport.assertClose;
import static ai.fulgur.training.nn.NnTestSupport.assertSameGradients;
import static ai.fulgur.training.nn.NnTestSupport.assertValues;
import static ai.fulgur.training.nn.NnTestSupport.normal;
import static ai.fulgur.training.nn.NnTestSupport.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.autograd.functions.BlockSparseAttention;
import ai.fulgur.autograd.functions.FlashAttention;
import ai.fulgur.ops.attention.AttentionSpec;
import ai.fulgur.ops.attention.BlockSparseLayout;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The attention blocks on the Fulgur engine (FlashAttention kernels) against the same blocks on the PyTorch engine
 * (the composed path) with identical parameters: output, input gradient and every parameter gradient must agree. The
 * PyTorch output is itself checked against a plain double-precision loop written here from the masking rules, so the
 * composed path is not its own reference. Sizes do not divide the block size (N = 13, blocks of 4).
 */
class FlashMultiHeadAttentionTest {
    private static final int B = 3;
    private static final int N = 13;
    private static final int C = 32;
    private static final double ATOL = 2e-5;
    private static final double RTOL = 2e-4;

    private NDManager fu;
    private NDManager pt;

    @BeforeEach
    void open() {
        fu = NnTestSupport.fulgurManager();
        pt = NnTestSupport.torchManager();
    }

    @AfterEach
    void close() {
        fu.close();
        pt.close();
    }

    /** One attention configuration, built into a block and evaluated by {@link #naive}. */
    private record Config(int heads, int kvHeads, boolean causal, int left, int right, boolean bias, double scale,
            long[] lengths, BlockSparseLayout layout) {

        static Config of(int heads) {
            return new Config(heads, heads, false, -1, -1, true, Double.NaN, null, null);
        }

        Config kv(int h) {
            return new Config(heads, h, causal, left, right, bias, scale, lengths, layout);
        }

        Config causalMask() {
            return new Config(heads, kvHeads, true, left, right, bias, scale, lengths, layout);
        }

        Config window(int l, int r) {
            return new Config(heads, kvHeads, causal, l, r, bias, scale, lengths, layout);
        }

        Config noBias(double s) {
            return new Config(heads, kvHeads, causal, left, right, false, s, lengths, layout);
        }

        Config padded(long... lens) {
            return new Config(heads, kvHeads, causal, left, right, bias, scale, lens, layout);
        }

        Config sparse(BlockSparseLayout l) {
            return new Config(heads, kvHeads, causal, left, right, bias, scale, lengths, l);
        }

        AbstractMultiHeadAttention build() {
            if (layout != null) {
                return configure(BlockSparseMultiHeadAttention.builder().setLayout(layout)).build();
            }
            return configure(FlashMultiHeadAttention.builder()).build();
        }

        private <T extends AbstractMultiHeadAttention.BaseBuilder<T>> T configure(T b) {
            b.setNumHeads(heads).optNumKvHeads(kvHeads).optCausal(causal).optWindow(left, right).optBias(bias);
            if (!Double.isNaN(scale)) {
                b.optSoftmaxScale(scale);
            }
            return b;
        }

        float[] mask() {
            if (lengths == null) {
                return null;
            }
            float[] m = new float[B * N];
            for (int b = 0; b < B; b++) {
                for (int j = 0; j < lengths[b]; j++) {
                    m[b * N + j] = 1;
                }
            }
            return m;
        }

        /** The masking rules, restated: causal bottom-right (here nq = nk), window, padding, layout. */
        boolean visible(int b, int h, int i, int j) {
            if (causal && j > i) {
                return false;
            }
            if (left >= 0 && j < i - left) {
                return false;
            }
            if (!causal && right >= 0 && j > i + right) {
                return false;
            }
            if (lengths != null && j >= lengths[b]) {
                return false;
            }
            return layout == null || layout.isSet(h, i / layout.blockSize(), j / layout.blockSize());
        }
    }

    private record Run(AbstractMultiHeadAttention block, NDArray x, NDArray y) {}

    /** Forward (training) and backward of Σ y ⊙ R on {@code m}, parameters random or copied from {@code copyFrom}. */
    private static Run run(Config c, NDManager m, AbstractMultiHeadAttention copyFrom) {
        AbstractMultiHeadAttention block = c.build();
        NDArray x = normal(m, 7, 1f, B, N, C);
        x.setRequiresGradient(true);
        NDList in = c.mask() == null ? new NDList(x) : new NDList(x, m.create(c.mask(), new Shape(B, N)));
        block.initialize(m, DataType.FLOAT32, in.getShapes());
        if (copyFrom == null) {
            NnTestSupport.randomizeParameters(block, 11, 0.3f);
        } else {
            NnTestSupport.copyParameters(copyFrom, block);
        }
        try (GradientCollector gc = m.getEngine().newGradientCollector()) {
            NDArray y = block.forward(new ParameterStore(m, false), in, true).head();
            gc.backward(y.mul(normal(m, 99, 1f, B, N, C)).sum());
            return new Run(block, x, y);
        }
    }

    /** Fulgur against PyTorch, and PyTorch against the naive loop. */
    private void compare(String name, Config c) {
        Run theirs = run(c, pt, null);
        Run ours = run(c, fu, theirs.block());
        assertInstanceOf(FulgurNDArray.class, ours.y(), name + ": Fulgur output");
        double[] reference = naive(c, values(theirs.x()), theirs.block());
        assertValues(name + ": PyTorch composed output vs naive loop", reference, values(theirs.y()), 1e-5, 1e-4);
        double dy = assertClose(name + ": output", theirs.y(), ours.y(), ATOL, RTOL);
        double dx = assertClose(name + ": input gradient", theirs.x().getGradient(), ours.x().getGradient(), ATOL,
                RTOL);
        double dp = assertSameGradients(name, theirs.block(), ours.block(), ATOL, RTOL);
        System.out.printf("%-40s max |diff| output %.2e, dx %.2e, parameter gradients %.2e%n", name, dy, dx, dp);
    }

    /** y for x (B, N, C) from the block's parameters, in double, with loops over the masking rules. */
    private static double[] naive(Config c, double[] x, AbstractMultiHeadAttention block) {
        int hq = c.heads();
        int hkv = c.kvHeads();
        int d = C / hq;
        int units = (hq + 2 * hkv) * d;
        double[] wqkv = parameter(block, "qkv_weight");
        double[] bqkv = c.bias() ? parameter(block, "qkv_bias") : new double[units];
        double[] wo = parameter(block, "out_weight");
        double[] bo = c.bias() ? parameter(block, "out_bias") : new double[C];
        double scale = Double.isNaN(c.scale()) ? 1 / Math.sqrt(d) : c.scale();
        double[] proj = new double[B * N * units];
        for (int r = 0; r < B * N; r++) {
            for (int u = 0; u < units; u++) {
                double s = bqkv[u];
                for (int k = 0; k < C; k++) {
                    s += x[r * C + k] * wqkv[u * C + k];
                }
                proj[r * units + u] = s;
            }
        }
        double[] o = new double[B * N * C];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < hq; h++) {
                int g = h / (hq / hkv);
                for (int i = 0; i < N; i++) {
                    double[] p = new double[N];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < N; j++) {
                        if (c.visible(b, h, i, j)) {
                            double s = 0;
                            for (int e = 0; e < d; e++) {
                                s += proj[(b * N + i) * units + h * d + e] * proj[(b * N + j) * units + (hq + g) * d + e];
                            }
                            p[j] = s * scale;
                            max = Math.max(max, p[j]);
                        }
                    }
                    if (max == Double.NEGATIVE_INFINITY) {
                        continue; // no visible key: zeros
                    }
                    double sum = 0;
                    for (int j = 0; j < N; j++) {
                        p[j] = c.visible(b, h, i, j) ? Math.exp(p[j] - max) : 0;
                        sum += p[j];
                    }
                    for (int e = 0; e < d; e++) {
                        double s = 0;
                        for (int j = 0; j < N; j++) {
                            s += p[j] / sum * proj[(b * N + j) * units + (hq + hkv + g) * d + e];
                        }
                        o[(b * N + i) * C + h * d + e] = s;
                    }
                }
            }
        }
        double[] y = new double[B * N * C];
        for (int r = 0; r < B * N; r++) {
            for (int k = 0; k < C; k++) {
                double s = bo[k];
                for (int u = 0; u < C; u++) {
                    s += o[r * C + u] * wo[k * C + u];
                }
                y[r * C + k] = s;
            }
        }
        return y;
    }

    /** The values of the parameter whose name ends in {@code suffix} (DJL prefixes child names with an index). */
    private static double[] parameter(AbstractMultiHeadAttention block, String suffix) {
        for (var p : block.getParameters()) {
            if (p.getKey().endsWith(suffix)) {
                return values(p.getValue().getArray());
            }
        }
        throw new AssertionError("no parameter *" + suffix + " in " + block.getParameters().keys());
    }

    // -----------------------------------------------------------------------------------------------------------------
    // Fulgur against PyTorch

    @Test
    void denseNonCausal() {
        compare("dense", Config.of(4));
    }

    @Test
    void causal() {
        compare("causal", Config.of(4).causalMask());
    }

    @Test
    void groupedAndMultiQuery() {
        compare("GQA 4 query / 2 kv heads, causal", Config.of(4).kv(2).causalMask());
        compare("MQA 4 query / 1 kv head", Config.of(4).kv(1));
    }

    @Test
    void slidingWindow() {
        compare("window (3, 2)", Config.of(4).window(3, 2));
        compare("causal, window left 4", Config.of(2).causalMask().window(4, -1));
    }

    @Test
    void paddingMask() {
        compare("padding 13, 6, 0", Config.of(4).padded(13, 6, 0));
        compare("causal + padding 5, 13, 1, GQA", Config.of(4).kv(2).causalMask().padded(5, 13, 1));
    }

    @Test
    void noBiasAndCustomScale() {
        compare("no bias, scale 0.3", Config.of(8).noBias(0.3).causalMask());
    }

    @Test
    void blockSparseSharedLayout() {
        // 4 × 4 blocks of 4 (the last one partial): local (diagonal and the block before) plus a global first column
        boolean[] mask = new boolean[16];
        for (int qb = 0; qb < 4; qb++) {
            mask[qb * 4] = true;
            mask[qb * 4 + qb] = true;
            if (qb > 0) {
                mask[qb * 4 + qb - 1] = true;
            }
        }
        mask[2] = true; // and one block above the diagonal
        BlockSparseLayout layout = new BlockSparseLayout(4, 1, 4, 4, mask);
        compare("block-sparse shared", Config.of(4).sparse(layout));
        compare("block-sparse shared, padding", Config.of(4).sparse(layout).padded(13, 3, 9));
    }

    @Test
    void blockSparsePerHeadCausalGqa() {
        // head h keeps key block kb of query block qb when (qb + kb + h) is even or kb == qb (query block 1 of
        // head 0 then sees only its diagonal)
        boolean[] mask = new boolean[4 * 4 * 4];
        for (int h = 0; h < 4; h++) {
            for (int qb = 0; qb < 4; qb++) {
                for (int kb = 0; kb < 4; kb++) {
                    mask[(h * 4 + qb) * 4 + kb] = (qb + kb + h) % 2 == 0 || kb == qb;
                }
            }
        }
        compare("block-sparse per head, causal, GQA", Config.of(4).kv(2).causalMask()
                .sparse(new BlockSparseLayout(4, 4, 4, 4, mask)));
    }

    @Test
    void blockSparseFromProvider() {
        // a rule, not a fixed mask: a strided pattern built for whatever number of blocks the sequence needs
        LayoutProvider strided = (qbs, kbs) -> {
            boolean[] m = new boolean[qbs * kbs];
            for (int qb = 0; qb < qbs; qb++) {
                for (int kb = 0; kb < kbs; kb++) {
                    m[qb * kbs + kb] = kb == qb || (qb - kb) % 2 == 0;
                }
            }
            return new BlockSparseLayout(4, 1, qbs, kbs, m);
        };
        BlockSparseMultiHeadAttention a = BlockSparseMultiHeadAttention.builder().setNumHeads(4).optCausal(true)
                .setLayout(4, strided).build();
        BlockSparseMultiHeadAttention b = BlockSparseMultiHeadAttention.builder().setNumHeads(4).optCausal(true)
                .setLayout(strided.layout(4, 4)).build();
        NDArray x = normal(fu, 3, 1f, B, N, C);
        a.initialize(fu, DataType.FLOAT32, x.getShape());
        b.initialize(fu, DataType.FLOAT32, x.getShape());
        NnTestSupport.copyParameters(a, b);
        NDArray ya = a.forward(new ParameterStore(fu, false), new NDList(x), false).head();
        NDArray yb = b.forward(new ParameterStore(fu, false), new NDList(x), false).head();
        assertClose("provider vs fixed layout", yb, ya, 0, 0);
        compare("block-sparse from the provider's layout", Config.of(4).causalMask().sparse(strided.layout(4, 4)));
    }

    // -----------------------------------------------------------------------------------------------------------------
    // the Fulgur path itself

    @Test
    void fulgurRecordsOneFlashFunctionOnlyInsideACollector() {
        NDArray q = normal(fu, 1, 1f, 2, 5, 2, 8);
        NDArray k = normal(fu, 2, 1f, 2, 5, 1, 8);
        NDArray v = normal(fu, 3, 1f, 2, 5, 1, 8);
        for (NDArray a : new NDArray[] {q, k, v}) {
            a.setRequiresGradient(true);
        }
        AttentionSpec spec = AttentionSpec.causal(8);
        NDArray outside = AbstractMultiHeadAttention.attention(q, k, v, null, spec, true);
        assertNull(((FulgurNDArray) outside).variable().gradFn(), "recorded without a gradient collector");
        BlockSparseLayout layout = BlockSparseLayout.dense(4, 2, 2);
        try (GradientCollector gc = Engine.getEngine("Fulgur").newGradientCollector()) {
            NDArray dense = AbstractMultiHeadAttention.attention(q, k, v, null, spec, true);
            NDArray sparse = AbstractMultiHeadAttention.attention(q, k, v, null, spec.withLayout(layout), true);
            assertEquals(FlashAttention.class, ((FulgurNDArray) dense).variable().gradFn().getClass());
            assertInstanceOf(BlockSparseAttention.class, ((FulgurNDArray) sparse).variable().gradFn());
            assertEquals(new Shape(2, 5, 2, 8), dense.getShape());
            assertClose("dense layout through the sparse kernel", dense, sparse, 1e-6, 1e-5);
        }
    }

    @Test
    void composedPathRunsOnFulgurToo() {
        // the composed path is plain NDArray ops: on Fulgur it must agree with the kernel, gradients included
        BlockSparseLayout layout = new BlockSparseLayout(2, 1, 3, 3,
                new boolean[] {true, false, false, true, true, false, false, true, true});
        AttentionSpec spec = AttentionSpec.causal(8).withWindow(3, 0).withLayout(layout);
        long[] lengths = {5, 3};
        NDArray mask = fu.create(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, new Shape(2, 5));
        double[][] results = new double[2][];
        double[][] grads = new double[2][];
        for (int path = 0; path < 2; path++) {
            NDArray q = normal(fu, 1, 1f, 2, 5, 4, 8);
            NDArray k = normal(fu, 2, 1f, 2, 5, 2, 8);
            NDArray v = normal(fu, 3, 1f, 2, 5, 2, 8);
            q.setRequiresGradient(true);
            k.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getEngine("Fulgur").newGradientCollector()) {
                NDArray o = path == 0 ? AbstractMultiHeadAttention.attention(q, k, v, mask, spec, true)
                        : ComposedAttention.attention(q, k, v, lengths, spec);
                gc.backward(o.mul(normal(fu, 4, 1f, 2, 5, 4, 8)).sum());
                results[path] = values(o);
                grads[path] = concat(values(q.getGradient()), values(k.getGradient()));
            }
        }
        assertValues("composed on Fulgur vs kernel: output", results[0], results[1], 1e-5, 1e-4);
        assertValues("composed on Fulgur vs kernel: dq, dk", grads[0], grads[1], 1e-5, 1e-4);
    }

    private static double[] concat(double[] a, double[] b) {
        double[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void dropoutOnlyInTrainingAndReproducibleFromTheSeed() {
        AbstractMultiHeadAttention theirs = FlashMultiHeadAttention.builder().setNumHeads(4).optCausal(true)
                .optAttentionDropout(0.5f).build();
        AbstractMultiHeadAttention ours = FlashMultiHeadAttention.builder().setNumHeads(4).optCausal(true)
                .optAttentionDropout(0.5f).build();
        NDArray xt = normal(pt, 5, 1f, B, N, C);
        NDArray xo = normal(fu, 5, 1f, B, N, C);
        theirs.initialize(pt, DataType.FLOAT32, xt.getShape());
        ours.initialize(fu, DataType.FLOAT32, xo.getShape());
        NnTestSupport.randomizeParameters(theirs, 3, 0.3f);
        NnTestSupport.copyParameters(theirs, ours);
        NDArray evalTheirs = theirs.forward(new ParameterStore(pt, false), new NDList(xt), false).head();
        NDArray evalOurs = ours.forward(new ParameterStore(fu, false), new NDList(xo), false).head();
        assertClose("inference ignores dropout", evalTheirs, evalOurs, ATOL, RTOL);

        Engine fulgur = Engine.getEngine("Fulgur");
        double[][] train = new double[2][];
        for (int r = 0; r < 2; r++) {
            fulgur.setRandomSeed(1234);
            try (GradientCollector gc = fulgur.newGradientCollector()) {
                xo.setRequiresGradient(true);
                NDArray y = ours.forward(new ParameterStore(fu, false), new NDList(xo), true).head();
                gc.backward(y.sum());
                train[r] = values(y);
                for (double g : values(xo.getGradient())) {
                    assertTrue(Double.isFinite(g), "dropout gradient is finite");
                }
            }
        }
        assertArrayEquals(train[0], train[1], "same seed, same dropout mask");
        double[] eval = values(evalOurs);
        double maxDiff = 0;
        for (int i = 0; i < eval.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(eval[i] - train[0][i]));
        }
        assertTrue(maxDiff > 1e-2, "training output with dropout 0.5 should differ from inference, max diff "
                + maxDiff);
    }

    @Test
    void savedParametersLoadIntoAFreshBlock() throws Exception {
        AbstractMultiHeadAttention a = FlashMultiHeadAttention.builder().setNumHeads(4).optNumKvHeads(2).build();
        NDArray x = normal(fu, 8, 1f, B, N, C);
        a.initialize(fu, DataType.FLOAT32, x.getShape());
        NnTestSupport.randomizeParameters(a, 5, 0.3f);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        a.saveParameters(new DataOutputStream(bytes));
        AbstractMultiHeadAttention b = FlashMultiHeadAttention.builder().setNumHeads(4).optNumKvHeads(2).build();
        b.loadParameters(pt, new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())));
        assertEquals(C, b.getEmbeddingSize());
        NDArray ya = a.forward(new ParameterStore(fu, false), new NDList(x), false).head();
        NDArray yb = b.forward(new ParameterStore(pt, false), new NDList(pt.create(x.toFloatArray(), x.getShape())),
                false).head();
        assertClose("Fulgur-saved parameters loaded on PyTorch", yb, ya, ATOL, RTOL);
    }

    // -----------------------------------------------------------------------------------------------------------------
    // shapes and errors

    @Test
    void outputShapesByArithmetic() {
        AbstractMultiHeadAttention a = FlashMultiHeadAttention.builder().setNumHeads(4).build();
        assertArrayEquals(new Shape[] {new Shape(2, 7, 32)}, a.getOutputShapes(new Shape[] {new Shape(2, 7, 32)}));
        assertArrayEquals(new Shape[] {new Shape(2, 7, 32)},
                a.getOutputShapes(new Shape[] {new Shape(2, 7, 32), new Shape(2, 7)}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> a.getOutputShapes(new Shape[] {new Shape(2, 7, 30)}));
        assertTrue(e.getMessage().contains("multiple of numHeads 4"), e.getMessage());
    }

    @Test
    void rejectsEmbeddingSizeNotAMultipleOfHeads() {
        AbstractMultiHeadAttention a = FlashMultiHeadAttention.builder().setNumHeads(4).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> a.initialize(fu, DataType.FLOAT32, new Shape(2, 5, 30)));
        assertTrue(e.getMessage().contains("embedding size 30") && e.getMessage().contains("numHeads 4"),
                e.getMessage());
    }

    @Test
    void rejectsAMaskThatIsNotRightPadding() {
        for (NDManager m : new NDManager[] {fu, pt}) {
            AbstractMultiHeadAttention a = FlashMultiHeadAttention.builder().setNumHeads(2).build();
            NDArray x = normal(m, 1, 1f, 2, 4, 8);
            NDArray mask = m.create(new float[] {1, 1, 1, 1, 1, 0, 1, 0}, new Shape(2, 4));
            a.initialize(m, DataType.FLOAT32, x.getShape(), mask.getShape());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> a.forward(new ParameterStore(m, false), new NDList(x, mask), false));
            assertTrue(e.getMessage().contains("row 1 is not right padding"), e.getMessage());
        }
    }

    @Test
    void builderRejectsBadOptions() {
        assertThrows(IllegalArgumentException.class, () -> FlashMultiHeadAttention.builder().build());
        IllegalArgumentException kv = assertThrows(IllegalArgumentException.class,
                () -> FlashMultiHeadAttention.builder().setNumHeads(4).optNumKvHeads(3).build());
        assertTrue(kv.getMessage().contains("got 3"), kv.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> FlashMultiHeadAttention.builder().setNumHeads(4).optAttentionDropout(1f).build());
        assertThrows(IllegalArgumentException.class,
                () -> FlashMultiHeadAttention.builder().setNumHeads(4).optWindow(-2, 0).build());
        assertThrows(IllegalArgumentException.class,
                () -> BlockSparseMultiHeadAttention.builder().setNumHeads(4).build());
    }

    @Test
    void rejectsALayoutTooSmallForTheSequence() {
        AbstractMultiHeadAttention a = BlockSparseMultiHeadAttention.builder().setNumHeads(4)
                .setLayout(BlockSparseLayout.dense(4, 2, 2)).build();
        NDArray x = normal(pt, 1, 1f, B, N, C);
        a.initialize(pt, DataType.FLOAT32, x.getShape());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> a.forward(new ParameterStore(pt, false), new NDList(x), false));
        assertTrue(e.getMessage().contains("layout covers 2 × 2"), e.getMessage());
    }
}
