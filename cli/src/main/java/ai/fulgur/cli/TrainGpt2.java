package ai.fulgur.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.fulgur.datasets.tokenizer.Gpt2Tokenizer;
import ai.fulgur.inference.generate.Generator;
import ai.fulgur.inference.sampling.SamplingParams;
import ai.fulgur.training.distributed.DataParallel;
import ai.fulgur.training.gpt2.Gpt2Config;
import ai.fulgur.training.gpt2.Gpt2Model;
import ai.fulgur.training.gpt2.Gpt2Training;
import ai.fulgur.training.loop.TrainingLoop;
import ai.fulgur.training.precision.Precision;
import ai.fulgur.training.loop.TrainingState;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** {@code fulgur train gpt2}: causal-LM training of GPT-2 on text or shards, with checkpoints that resume. */
final class TrainGpt2 {
    private TrainGpt2() {
    }

    static String usage() {
        return """
                usage: fulgur train gpt2 --data FILE|DIR [options]    GPT-2 learns a corpus (next-token prediction)
                  --data P          a text file, a directory of .txt files, or shards from 'fulgur prepare'
                  --tokenizer T     gpt2, a tokenizer directory, or bpe:N to learn N tokens from the text  [gpt2]
                  --preset NAME     tiny, small, 124m or 355m                                    [tiny]
                  --block N         tokens per training window                                   [min(n_positions, 128)]
                  --steps N         optimizer steps                                              [1000]
                  --batch N         windows per step                                             [16]
                  --lr X            peak learning rate (linear warm-up, cosine to lr/10)         [1e-3]
                  --warmup N        warm-up steps                                                [steps/20]
                  --weight-decay X  AdamW decay of the weight matrices                           [0.1]
                  --clip X          clip gradients to this global norm (0: off)                  [1.0]
                  --dropout X       residual, embedding and attention dropout                    [0]
                  --eval-every N    evaluation (and loss-curve point) interval                   [steps/10]
                  --checkpoint-every N                                                           [at the end]
                  --save DIR        checkpoint: config.json, model.safetensors (Hugging Face GPT2LMHeadModel),
                                    tokenizer, training_state.safetensors, loss.svg
                  --resume DIR      continue the run checkpointed in DIR (same data and options)
                  --device NAME     cpu, gpu or gpu:N                                            [engine default]
                  --gpus N          data parallel over N GPUs, one process each (--batch is the global batch)
                  --processes N     data parallel over N processes on --device (CPU: for development)    [1]
                  --accumulate K    split each rank's batch into K micro-batches (gradient accumulation)  [1]
                  --bucket-mb X     data parallel: MB of gradients per all-reduce                [25]
                  --no-overlap      data parallel: all-reduce after the backward pass, not during it
                  --recompute       recompute each layer's activations in the backward pass (less memory)
                  --seed N          initialisation, windows and dropout                          [1]
                  --precision P     fp32, bf16 or fp16: what forward and backward compute in; weights and AdamW
                                    state stay F32; fp16 adds dynamic loss scaling, skipped steps shown
                                                                                 [bf16 on a GPU, fp32 on the CPU]
                  --cuda-graph      capture one training step into a CUDA graph after 3 eager steps and replay
                                    it (GPU, one process, bf16/fp32, no dropout; otherwise says why and runs
                                    eagerly); losses are read every 10 steps
                  --from DIR        start from this checkpoint's weights and tokenizer (fine-tuning)
                  --freeze N        freeze the embeddings and the first N layers                 [0]
                """;
    }

    static int run(Args args, PrintStream out) throws Exception {
        return run(args, out, false);
    }

    /** Trains; with {@code finetune}, {@code --from DIR} (required) supplies the starting weights and tokenizer. */
    static int run(Args args, PrintStream out, boolean finetune) throws Exception {
        String from = args.string("from", null);
        if (finetune && from == null) {
            throw new Args.UsageException("--from DIR (the GPT-2 checkpoint to fine-tune) is required");
        }
        String data = args.string("data", null);
        if (data == null) {
            throw new Args.UsageException("--data is required (a text file, a directory, or shards)");
        }
        String resume = args.string("resume", null);
        if (resume != null && from != null) {
            throw new Args.UsageException("--resume continues a run, --from starts a new one from weights: give one");
        }
        String tokenizerSpec = args.string("tokenizer", resume != null ? resume : from != null ? from : "gpt2");
        int freeze = args.integer("freeze", 0, 0);
        Gpt2Config preset;
        try {
            preset = Gpt2Config.preset(args.string("preset", "tiny"));
        } catch (IllegalArgumentException e) {
            throw new Args.UsageException(e.getMessage());
        }
        int steps = args.integer("steps", 1000, 1);
        int batch = args.integer("batch", 16, 1);
        int block = args.integer("block", Math.min(preset.nPositions(), 128), 1);
        float lr = (float) args.number("lr", 1e-3, 0);
        int warmup = args.integer("warmup", steps / 20, 0);
        float decay = (float) args.number("weight-decay", 0.1, 0);
        double clip = args.number("clip", 1.0, 0);
        float dropout = (float) args.number("dropout", 0, 0);
        int evalEvery = args.integer("eval-every", Math.max(1, steps / 10), 0);
        int checkpointEvery = args.integer("checkpoint-every", 0, 0);
        String save = args.string("save", resume);
        String device = args.string("device", null);
        Precision explicitPrecision = args.precision();
        int seed = args.integer("seed", 1, 0);
        int gpus = args.integer("gpus", 0, 0);
        int processes = args.integer("processes", gpus > 0 ? gpus : 1, 1);
        int accumulate = args.integer("accumulate", 1, 1);
        boolean recompute = args.flag("recompute");
        double bucketMb = args.number("bucket-mb", DataParallel.BUCKET_BYTES / (double) (1 << 20), 0);
        boolean overlap = !args.flag("no-overlap");
        boolean cudaGraph = args.flag("cuda-graph");
        args.finish();
        if (!(bucketMb > 0)) {
            throw new Args.UsageException("--bucket-mb must be positive, got " + bucketMb);
        }
        if (dropout >= 1) {
            throw new Args.UsageException("--dropout must be below 1, got " + dropout);
        }
        if (cudaGraph && dropout > 0) {
            throw new Args.UsageException("--cuda-graph replays one captured step, whose dropout masks would be the "
                    + "same every step; use --dropout 0 (got " + dropout + ") or drop --cuda-graph");
        }
        if (gpus > 0) {
            if (processes != gpus) {
                throw new Args.UsageException("--gpus " + gpus + " and --processes " + processes + " disagree; give one");
            }
            if (device != null && !device.equals("gpu")) {
                throw new Args.UsageException("--gpus places rank r on gpu:r; drop --device " + device);
            }
            device = "gpu";
        }
        if (batch % (processes * accumulate) != 0) {
            throw new Args.UsageException("--batch " + batch + " must be a multiple of the " + processes
                    + " data-parallel processes times the " + accumulate + " micro-batches");
        }
        DataParallelLaunch.Rank rank = DataParallelLaunch.current();
        if (processes > 1 && rank == null) {
            return DataParallelLaunch.launch(processes, args.commandLine(), out);
        }
        if (rank != null && !rank.isLeader()) {
            out = new PrintStream(java.io.OutputStream.nullOutputStream());
        }

        CorpusLoader corpus = CorpusLoader.load(data, tokenizerSpec, out);
        out.println(corpus.description());
        Engine engine = Engine.getEngine("Fulgur");
        engine.setRandomSeed(seed);
        Device dev = ai.fulgur.autograd.djl.DeviceNames.parse(device, engine);
        if (rank != null && dev.isGpu()) {
            dev = Device.gpu(rank.rank());
        }
        Precision precision = explicitPrecision == null ? Precision.defaultFor(dev) : explicitPrecision;
        Gpt2Model model;
        TrainingState state = null;
        if (resume != null) {
            model = Gpt2Model.load(Path.of(resume), dev, "Fulgur");
            state = TrainingState.read(Path.of(resume), model.getManager());
            out.printf("resuming %s at step %d%n", resume, state.step());
        } else if (from != null) {
            model = Gpt2Model.load(Path.of(from), dev, "Fulgur");
            out.printf("fine-tuning %s%n", from);
        } else {
            Gpt2Config config = preset.toBuilder().vocabSize(corpus.tokenizer().vocabSize()).build()
                    .withDropout(dropout);
            model = Gpt2Model.newModel(config, dev, "Fulgur", seed);
        }
        try (model) {
            Gpt2Config c = model.getConfig();
            if (freeze > c.nLayer()) {
                throw new Args.UsageException("--freeze " + freeze + " exceeds the model's " + c.nLayer() + " layers");
            }
            if (freeze > 0) {
                model.getBlock().freezeEmbeddingsAndLayers(freeze);
            }
            model.getBlock().setRecompute(recompute);
            out.printf("GPT-2: %d layers, %d heads, embedding %d, %d positions, vocabulary %d (%,d parameters), on %s, "
                    + "%s%n",
                    c.nLayer(), c.nHead(), c.nEmbd(), c.nPositions(), c.vocabSize(),
                    ai.fulgur.training.gpt2.Gpt2.parameterCount(c), dev, precision.label());
            Gpt2Training.Config run = new Gpt2Training.Config(steps, batch, block, lr, lr / 10, warmup, decay, clip,
                    evalEvery, 8, checkpointEvery, seed, precision);
            Path checkpoint = save == null ? null : Path.of(save);
            TrainingLoop.Result result;
            try (ConsoleProgress progress = new ConsoleProgress(out);
                    DataParallel group = rank == null ? null
                            : DataParallel.join(dev, rank.rank(), rank.size(), rank.rendezvous())) {
                if (group != null) {
                    group.optOverlap(overlap).optBucketBytes((long) (bucketMb * (1 << 20)));
                    out.printf("data parallel: %d ranks, global batch %d (%d per rank), all-reduce in %s MB buckets "
                            + "%s the backward pass%n", group.size(), batch, group.localBatch(batch),
                            new java.math.BigDecimal(bucketMb).stripTrailingZeros().toPlainString(),
                            overlap ? "during" : "after");
                }
                result = Gpt2Training.train(model, corpus.train(), corpus.validation(), run, checkpoint,
                        dir -> saveTokenizer(corpus.tokenizer(), dir), state, steps, progress, dev,
                        new Gpt2Training.BatchSplit(group, accumulate),
                        cudaGraph ? new TrainingLoop.CudaGraphOptions(3, 10) : null);
            }
            out.printf("validation loss %.4f after %d steps%n", result.lastEvalLoss(), result.steps());
            if (checkpoint != null) {
                out.println("checkpoint (Hugging Face GPT2LMHeadModel + tokenizer + training state), loss curve: "
                        + checkpoint.resolve("loss.svg").toAbsolutePath());
            }
            if (rank == null || rank.isLeader()) {
                sample(model, corpus.tokenizer(), out);
            }
        }
        return 0;
    }

    /** Writes the tokenizer beside the weights when it is a BPE (vocab.json + merges.txt, Hugging Face's names). */
    static void saveTokenizer(ai.fulgur.datasets.tokenizer.Tokenizer tokenizer, Path dir) throws java.io.IOException {
        if (tokenizer instanceof Gpt2Tokenizer bpe) {
            Path tmp = Files.createTempDirectory(dir, ".tokenizer");
            bpe.bpe().save(tmp);
            Files.move(tmp.resolve("encoder.json"), dir.resolve("vocab.json"));
            Files.move(tmp.resolve("vocab.bpe"), dir.resolve("merges.txt"));
            Files.delete(tmp);
        }
    }

    /** Prints a short continuation of a newline, sampled at temperature 0.8, to show what was learned. */
    private static void sample(Gpt2Model model, ai.fulgur.datasets.tokenizer.Tokenizer tokenizer, PrintStream out) {
        int[] prompt = tokenizer.encode("\n");
        if (prompt.length == 0) {
            return;
        }
        int[] tokens = new Generator(model).generate(prompt, new SamplingParams(0.8, 0, 1, 1L,
                Math.min(100, model.getConfig().nPositions() - prompt.length), null), 1).get(0).tokens();
        out.println("sample:");
        out.println(tokenizer.decode(tokens));
    }
}
