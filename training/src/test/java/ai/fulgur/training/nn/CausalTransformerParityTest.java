package ai.fulgur.training.nn;

import ai.fulgur.training.loss.RecordingTokenLoss;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.Batchifier;
import ai.fulgur.autograd.djl.FulgurNDArray;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The parity check: a tiny causal transformer built with {@link FlashMultiHeadAttention} on the Fulgur engine
 * (FlashAttention kernels) and the same model on the PyTorch engine (attention composed from standard DJL ops; three
 * identical runs, their per-step median the reference) follow
 * the same loss curve from the same initial weights for 50 steps: dropout 0, the same token batches (tinyshakespeare
 * bytes mod the vocabulary), Adam, softmax cross-entropy over (B·T, V) logits, {@code EasyTrain.trainBatch} and
 * {@code trainer.step()}.
 */
class CausalTransformerParityTest {
    private static final int VOCAB = 64;
    private static final int EMBEDDING = 32;
    private static final int LAYERS = 2;
    private static final int HEADS = 4;
    private static final int T = 32;
    private static final int BATCH = 8;
    private static final int STEPS = 50;
    private static final float LEARNING_RATE = 3e-3f;
    /** Per-step relative loss difference allowed between the engines. */
    private static final double REL_TOL = 1e-3;
    /** Identical PyTorch runs whose per-step median is the reference (see {@link #medianCurve}). */
    private static final int TORCH_RUNS = 3;

    static {
        System.setProperty("ai.djl.offline", "true");
    }

    private static CausalTransformer model() {
        return CausalTransformer.builder().setVocabSize(VOCAB).setMaxLength(T).setEmbeddingSize(EMBEDDING)
                .setNumLayers(LAYERS).setNumHeads(HEADS).build();
    }

    @Test
    void fulgurFlashAttentionFollowsPyTorchComposedLossCurve() throws IOException {
        byte[] text = Files.readAllBytes(tinyShakespeare());
        long[][][] batches = batches(text, 42);

        Model[] torchModels = new Model[TORCH_RUNS];
        Trainer[] torch = new Trainer[TORCH_RUNS];
        RecordingTokenLoss[] torchLoss = new RecordingTokenLoss[TORCH_RUNS];
        try (Model fulgurModel = Model.newInstance("tiny-gpt", Device.cpu(), "Fulgur")) {
            Engine.getEngine("PyTorch").setRandomSeed(7);
            Engine.getEngine("Fulgur").setRandomSeed(7);
            fulgurModel.setBlock(model());
            RecordingTokenLoss fulgurLoss = new RecordingTokenLoss();
            try (Trainer fulgur = fulgurModel.newTrainer(config(fulgurLoss))) {
                fulgur.initialize(new Shape(BATCH, T));
                for (int r = 0; r < TORCH_RUNS; r++) {
                    torchModels[r] = Model.newInstance("tiny-gpt", Device.cpu(), "PyTorch");
                    torchModels[r].setBlock(model());
                    torchLoss[r] = new RecordingTokenLoss();
                    torch[r] = torchModels[r].newTrainer(config(torchLoss[r]));
                    torch[r].initialize(new Shape(BATCH, T));
                    if (r > 0) {
                        NnTestSupport.copyParameters(torchModels[0].getBlock(), torchModels[r].getBlock());
                    }
                }
                NnTestSupport.copyParameters(torchModels[0].getBlock(), fulgurModel.getBlock());
                assertFlashPathOnFulgur(fulgurModel.getBlock(), fulgur.getManager());

                float[][] torchCurves = new float[TORCH_RUNS][STEPS];
                float[] fulgurCurve = new float[STEPS];
                long start = System.nanoTime();
                for (int s = 0; s < STEPS; s++) {
                    for (int r = 0; r < TORCH_RUNS; r++) {
                        torchCurves[r][s] = step(torch[r], torchLoss[r], batches[s], s);
                    }
                    fulgurCurve[s] = step(fulgur, fulgurLoss, batches[s], s);
                }
                System.out.printf("50 steps on both engines in %.1f s%n", (System.nanoTime() - start) / 1e9);
                float[] torchCurve = medianCurve(torchCurves);
                System.out.println("step  PyTorch (composed)  Fulgur (flash)  rel diff");
                double worst = 0;
                for (int s = 0; s < STEPS; s++) {
                    double rel = Math.abs(fulgurCurve[s] - torchCurve[s]) / Math.abs(torchCurve[s]);
                    worst = Math.max(worst, rel);
                    System.out.printf("%4d  %18.6f  %14.6f  %.2e%n", s, torchCurve[s], fulgurCurve[s], rel);
                }
                System.out.printf("worst relative difference %.2e (tolerance %.0e)%n", worst, REL_TOL);
                for (int s = 0; s < STEPS; s++) {
                    double rel = Math.abs(fulgurCurve[s] - torchCurve[s]) / Math.abs(torchCurve[s]);
                    assertTrue(rel <= REL_TOL, "step " + s + ": Fulgur loss " + fulgurCurve[s] + " vs PyTorch "
                            + torchCurve[s] + ", relative difference " + rel + " > " + REL_TOL);
                }
                // at least about ln(64) ≈ 4.16 at the start; the letter statistics alone take it well below
                double first = torchCurve[0];
                double last = (torchCurve[STEPS - 1] + torchCurve[STEPS - 2] + torchCurve[STEPS - 3]) / 3;
                assertTrue(first > 3.8, "initial loss " + first + " should be at least about ln(64) = 4.16");
                assertTrue(last < 0.85 * first, "loss did not decrease: " + first + " → " + last);
                assertTrue((fulgurCurve[STEPS - 1] + fulgurCurve[STEPS - 2] + fulgurCurve[STEPS - 3]) / 3
                        < 0.85 * fulgurCurve[0], "Fulgur loss did not decrease");
            } finally {
                for (int r = 0; r < TORCH_RUNS; r++) {
                    if (torch[r] != null) {
                        torch[r].close();
                    }
                    if (torchModels[r] != null) {
                        torchModels[r].close();
                    }
                }
            }
        }
    }

    /**
     * Per step, the median of the PyTorch runs' losses, printing each step where a run parts from it. The reference
     * is three identical PyTorch runs because, on the CI machine, PyTorch's own curve twice left its usual values at
     * step 1 (4.3300 against 4.3387, relative 2e-3) while Fulgur's stayed on them; locally, 20 of 20 runs (under
     * load, with 1 to 64 threads, AVX2/SSE ISA caps for ATen, MKL and oneDNN) gave the usual values. A single
     * deviating PyTorch run no longer fails the test, and the message shows whether it was PyTorch that moved.
     */
    private static float[] medianCurve(float[][] curves) {
        float[] median = new float[STEPS];
        for (int s = 0; s < STEPS; s++) {
            float[] v = new float[curves.length];
            for (int r = 0; r < curves.length; r++) {
                v[r] = curves[r][s];
            }
            java.util.Arrays.sort(v);
            median[s] = v[curves.length / 2];
            for (int r = 0; r < curves.length; r++) {
                double rel = Math.abs(curves[r][s] - median[s]) / Math.abs(median[s]);
                if (rel > REL_TOL) {
                    System.out.printf("PyTorch run %d parts from the other runs at step %d: %.7f against %.7f%n", r,
                            s, curves[r][s], median[s]);
                }
            }
        }
        return median;
    }

    /**
     * Adam with epsilon 1e-6 on both engines: Adam's first steps move each weight by about lr · g / |g|, so with DJL's
     * default 1e-8 a gradient that is zero up to rounding (±1e-9, its sign set by the summation order of a
     * multi-threaded CPU kernel on either engine) moved its weight by a full lr step and the two curves parted by up
     * to 2e-3 at step 1 in about one run in eight. A larger epsilon scales such noise down to nothing.
     */
    private static DefaultTrainingConfig config(Loss loss) {
        return new DefaultTrainingConfig(loss).optDevices(new Device[] {Device.cpu()})
                .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(LEARNING_RATE)).optEpsilon(1e-6f)
                        .build());
    }

    /** One optimizer step on {@code tokens} (inputs, next tokens); returns the loss before the update. */
    private static float step(Trainer trainer, RecordingTokenLoss loss, long[][] tokens, int index) {
        try (NDManager m = trainer.getManager().newSubManager()) {
            NDArray x = m.create(tokens[0], new Shape(BATCH, T));
            NDArray y = m.create(tokens[1], new Shape(BATCH, T));
            try (Batch batch = new Batch(m, new NDList(x), new NDList(y), BATCH, Batchifier.STACK, Batchifier.STACK,
                    index, STEPS)) {
                EasyTrain.trainBatch(trainer, batch);
                trainer.step();
            }
        }
        return loss.last();
    }

    /** The model's attention on Fulgur is FlashMultiHeadAttention, and its output is a Fulgur array. */
    private static void assertFlashPathOnFulgur(Block block, NDManager manager) {
        Block first = block.getChildren().get(0).getValue();
        assertInstanceOf(TransformerBlock.class, first);
        assertInstanceOf(FlashMultiHeadAttention.class, ((TransformerBlock) first).getAttention());
        assertTrue(((TransformerBlock) first).getAttention().isCausal(), "attention is causal");
        NDArray tokens = manager.create(new long[2 * 5], new Shape(2, 5));
        NDArray logits = block.forward(new ParameterStore(manager, false), new NDList(tokens), false).head();
        assertInstanceOf(FulgurNDArray.class, logits);
        assertEquals(new Shape(2, 5, VOCAB), logits.getShape());
        assertEquals(new Shape(2, 5, VOCAB), block.getOutputShapes(new Shape[] {new Shape(2, 5)})[0]);
        tokens.close();
        logits.close();
    }

    /** STEPS batches of (inputs, next tokens), each (BATCH, T), from random windows of the text, bytes mod VOCAB. */
    private static long[][][] batches(byte[] text, long seed) {
        Random rnd = new Random(seed);
        long[][][] out = new long[STEPS][2][BATCH * T];
        for (int s = 0; s < STEPS; s++) {
            for (int b = 0; b < BATCH; b++) {
                int start = rnd.nextInt(text.length - T - 1);
                for (int t = 0; t < T; t++) {
                    out[s][0][b * T + t] = (text[start + t] & 0xFF) % VOCAB;
                    out[s][1][b * T + t] = (text[start + t + 1] & 0xFF) % VOCAB;
                }
            }
        }
        return out;
    }

    /**
     * The shared data set: {@code ../shared/data/tinyshakespeare.txt} from the repository root, found by walking up
     * from the working directory (tests run in the module directory).
     */
    private static Path tinyShakespeare() {
        Path cwd = Path.of("").toAbsolutePath();
        for (Path dir = cwd; dir != null; dir = dir.getParent()) {
            for (Path candidate : new Path[] {dir.resolve("shared/data/tinyshakespeare.txt"),
                    dir.resolve("../shared/data/tinyshakespeare.txt").normalize()}) {
                if (Files.isRegularFile(candidate)) {
                    return candidate;
                }
            }
        }
        throw new AssertionError("tinyshakespeare.txt not found: looked for shared/data/tinyshakespeare.txt beside "
                + "and above " + cwd + " (the repository's ../shared/data/tinyshakespeare.txt)");
    }
}
