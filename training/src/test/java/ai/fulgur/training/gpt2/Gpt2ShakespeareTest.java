package ai.fulgur.training.gpt2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.fulgur.datasets.shard.TokenSource;
import ai.fulgur.datasets.tokenizer.BpeTrainer;
import ai.fulgur.datasets.tokenizer.Gpt2Tokenizer;
import ai.fulgur.datasets.tokenizer.TinyShakespeare;
import ai.fulgur.training.loop.LossCurve;
import ai.fulgur.training.loop.TrainingLoop;
import ai.fulgur.training.loop.TrainingState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A tiny GPT-2 learns tinyshakespeare on the CPU; a run resumed from its checkpoint repeats the straight run. */
class Gpt2ShakespeareTest {
    private static final int VOCAB = 512;
    private static final int BLOCK = 64;
    private static Gpt2Tokenizer tokenizer;
    private static int[] train;
    private static int[] validation;

    @TempDir
    Path dir;

    @BeforeAll
    static void tokenize() throws Exception {
        Path file = TinyShakespeare.find();
        assumeTrue(file != null, "tinyshakespeare.txt not found: " + TinyShakespeare.HINT);
        String text = Files.readString(file);
        // a small byte-level BPE learned from the first 200k characters keeps the LM head cheap on 2 cores
        tokenizer = new Gpt2Tokenizer(BpeTrainer.builder().setVocabSize(VOCAB).build()
                .train(List.of(text.substring(0, 200_000))));
        int[] all = tokenizer.encode(text);
        int cut = all.length * 9 / 10;
        train = Arrays.copyOf(all, cut);
        validation = Arrays.copyOfRange(all, cut, all.length);
    }

    private static Gpt2Config config() {
        return Gpt2Config.builder().nLayer(2).nHead(4).nEmbd(128).nPositions(BLOCK).vocabSize(tokenizer.vocabSize())
                .residPdrop(0).embdPdrop(0).attnPdrop(0).build();
    }

    private static Gpt2Training.Config run(int steps) {
        return new Gpt2Training.Config(steps, 16, BLOCK, 3e-3f, 3e-4f, 10, 0.1f, 1.0, 100, 8, 0, 1);
    }

    @Test
    void validationLossFallsBelowTheBound() {
        try (Gpt2Model model = Gpt2Model.newModel(config(), 3)) {
            long t0 = System.nanoTime();
            TrainingLoop.Result r = Gpt2Training.train(model, TokenSource.of(train), TokenSource.of(validation),
                    run(300), null, null, null, 300, null, Device.cpu());
            System.out.printf("tiny GPT-2 on tinyshakespeare (BPE %d): eval losses %s in %.1f s%n", VOCAB,
                    r.curve().eval(), (System.nanoTime() - t0) * 1e-9);
            List<LossCurve.Point> eval = r.curve().eval();
            assertTrue(eval.get(0).loss() > eval.get(eval.size() - 1).loss(), "evaluation loss falls: " + eval);
            // measured 4.16 (2026-11-26, 2-core Xeon); a unigram model of the training tokens scores about 5
            double unigram = unigramCrossEntropy();
            assertTrue(r.lastEvalLoss() < 4.4 && r.lastEvalLoss() < unigram - 0.6, "validation loss "
                    + r.lastEvalLoss() + ", unigram cross-entropy " + unigram);
        }
    }

    /** Train 4 steps == train 2, save a Hugging Face checkpoint with training state, load it, train 2 more. */
    @Test
    void resumingFromAHuggingFaceCheckpointRepeatsTheStraightRun() throws Exception {
        Gpt2Config dropout = config().toBuilder().residPdrop(0.1f).attnPdrop(0.1f).embdPdrop(0.1f).build();
        Gpt2Training.Config c = new Gpt2Training.Config(4, 4, 32, 3e-3f, 3e-4f, 1, 0.1f, 1.0, 0, 0, 0, 1);
        List<LossCurve.Point> straight;
        try (Gpt2Model model = Gpt2Model.newModel(dropout, 3)) {
            ai.djl.engine.Engine.getEngine("Fulgur").setRandomSeed(11);
            straight = Gpt2Training.train(model, TokenSource.of(train), null, c, null, null, null, 4, null,
                    Device.cpu()).curve().train();
        }
        Path checkpoint = dir.resolve("ckpt");
        try (Gpt2Model model = Gpt2Model.newModel(dropout, 3)) {
            ai.djl.engine.Engine.getEngine("Fulgur").setRandomSeed(11);
            // the first piece stops after step 2 of the 4-step schedule
            Gpt2Training.train(model, TokenSource.of(train), null, c, checkpoint, d -> tokenizer.bpe().save(d), null,
                    2, null, Device.cpu());
        }
        assertTrue(Files.isRegularFile(checkpoint.resolve("config.json")));
        assertTrue(Files.isRegularFile(checkpoint.resolve("model.safetensors")));
        assertTrue(Files.isRegularFile(checkpoint.resolve(TrainingState.FILE)));
        assertEquals(tokenizer.vocabSize(), ai.fulgur.datasets.tokenizer.Tokenizers.byName(checkpoint.toString())
                .vocabSize());
        try (Gpt2Model model = Gpt2Model.load(checkpoint, Device.cpu(), "Fulgur")) {
            TrainingState state = TrainingState.read(checkpoint, model.getManager());
            List<LossCurve.Point> resumed = Gpt2Training.train(model, TokenSource.of(train), null, c, null, null,
                    state, 4, null, Device.cpu()).curve().train();
            assertEquals(straight, resumed);
        }
    }

    private static double unigramCrossEntropy() {
        double[] counts = new double[tokenizer.vocabSize()];
        Arrays.fill(counts, 1); // add-one smoothing
        for (int t : train) {
            counts[t]++;
        }
        double total = Arrays.stream(counts).sum();
        double h = 0;
        for (int t : validation) {
            h -= Math.log(counts[t] / total);
        }
        return h / validation.length;
    }
}
