package ai.fulgur.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import ai.fulgur.datasets.tokenizer.Tokenizer;
import ai.fulgur.datasets.tokenizer.Tokenizers;
import ai.fulgur.inference.engine.EngineConfig;
import ai.fulgur.inference.kvcache.PoolSizing;
import ai.fulgur.inference.scheduler.PreemptionMode;
import ai.fulgur.training.gpt2.Gpt2Config;
import ai.fulgur.training.gpt2.Gpt2Model;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The model and engine options {@code fulgur serve} and {@code fulgur bench serve} share: which GPT-2 (a checkpoint
 * or, for benchmarks, a randomly initialised preset), its tokenizer, the device, and the paged engine's KV pool and
 * scheduler settings. Read first (so usage errors come before any loading), then {@link #loadModel()}.
 */
final class ServingOptions {
    static final String USAGE = """
              --checkpoint DIR        a GPT-2 checkpoint (config.json + model.safetensors; Fulgur's or Hugging Face's)
              --tokenizer T           gpt2, bert or a directory                   [the checkpoint's, else gpt2]
              --device NAME           cpu, gpu or gpu:N                                         [engine default]
              --dtype T               fp32, bf16 or fp16 weights, activations and KV cache                [fp32]
              --block-size N          tokens per KV block                                                  [16]
              --kv-blocks N           device KV blocks                          [as many as --kv-memory-gib holds]
              --kv-memory-gib X       memory for the device KV pool (keys and values in --dtype)           [1]
              --swap-blocks N         CPU swap pool blocks (0: preemption recomputes)        [a quarter of the pool]
              --max-batch-tokens N    tokens computed per step (prefill chunks + decodes)                 [2048]
              --max-seqs N            sequences per step                                                   [256]
              --preemption MODE       swap or recompute                                                   [swap]
              --no-prefix-caching     do not share full prompt blocks between requests
            """;

    final String checkpoint;
    final String preset;
    final String tokenizerName;
    final String device;
    final DataType dtype;
    final int blockSize;
    final int kvBlocks;
    final double kvMemoryGib;
    final int swapBlocks;
    final int maxBatchTokens;
    final int maxSeqs;
    final PreemptionMode preemption;
    final boolean prefixCaching;

    /** @param allowPreset whether {@code --preset NAME} (random weights) may stand in for a checkpoint */
    ServingOptions(Args args, boolean allowPreset) {
        checkpoint = args.string("checkpoint", null);
        preset = allowPreset ? args.string("preset", null) : null;
        if (checkpoint == null && preset == null) {
            throw new Args.UsageException(allowPreset ? "--checkpoint DIR or --preset NAME is required"
                    : "--checkpoint DIR is required");
        }
        if (checkpoint != null && preset != null) {
            throw new Args.UsageException("give --checkpoint or --preset, not both");
        }
        tokenizerName = args.string("tokenizer", null);
        device = args.string("device", null);
        String type = args.string("dtype", "fp32");
        dtype = switch (type) {
            case "fp32" -> DataType.FLOAT32;
            case "bf16" -> DataType.BFLOAT16;
            case "fp16" -> DataType.FLOAT16;
            default -> throw new Args.UsageException("--dtype must be fp32, bf16 or fp16, got '" + type + "'");
        };
        blockSize = args.integer("block-size", 16, 1);
        kvBlocks = args.integer("kv-blocks", 0, 1);
        kvMemoryGib = args.number("kv-memory-gib", 1, 0);
        swapBlocks = args.integer("swap-blocks", -1, 0);
        maxBatchTokens = args.integer("max-batch-tokens", 2048, 1);
        maxSeqs = args.integer("max-seqs", 256, 1);
        String mode = args.string("preemption", "swap");
        preemption = switch (mode.toLowerCase(Locale.ROOT)) {
            case "swap" -> PreemptionMode.SWAP;
            case "recompute" -> PreemptionMode.RECOMPUTE;
            default -> throw new Args.UsageException("--preemption must be swap or recompute, got '" + mode + "'");
        };
        prefixCaching = !args.flag("no-prefix-caching");
        if (preset != null) {
            try {
                Gpt2Config.preset(preset);
            } catch (IllegalArgumentException e) {
                throw new Args.UsageException(e.getMessage());
            }
        }
    }

    /** The served name: the checkpoint directory's name, or gpt2-PRESET-random. */
    String modelName() {
        if (checkpoint != null) {
            Path p = Path.of(checkpoint).toAbsolutePath().normalize();
            return p.getFileName() == null ? "gpt2" : p.getFileName().toString();
        }
        return "gpt2-" + preset + "-random";
    }

    Tokenizer loadTokenizer() throws IOException {
        String name = tokenizerName;
        if (name == null) {
            boolean own = checkpoint != null && (Files.isRegularFile(Path.of(checkpoint, "vocab.json"))
                    || Files.isRegularFile(Path.of(checkpoint, "encoder.json")));
            name = own ? checkpoint : "gpt2";
        }
        return Tokenizers.byName(name);
    }

    Gpt2Model loadModel() throws IOException {
        Engine engine = Engine.getEngine("Fulgur");
        Device dev = ai.fulgur.autograd.djl.DeviceNames.parse(device, engine);
        if (checkpoint != null) {
            return Gpt2Model.load(Path.of(checkpoint), dev, "Fulgur", dtype);
        }
        return Gpt2Model.newModel(Gpt2Config.preset(preset).withDropout(0), dev, "Fulgur", 0, dtype);
    }

    /** The engine settings for {@code model}: the pool from --kv-blocks or --kv-memory-gib. */
    EngineConfig engineConfig(Gpt2Config model) {
        int blocks = kvBlocks > 0 ? kvBlocks : PoolSizing.numBlocks((long) (kvMemoryGib * (1L << 30)), 1.0,
                model.nLayer(), model.nHead(), model.headDim(), blockSize, dtype.getNumOfBytes());
        int perSequence = (model.nPositions() + blockSize - 1) / blockSize;
        if (blocks < perSequence) {
            throw new Args.UsageException("the KV pool of " + blocks + " blocks cannot hold one full-context "
                    + "sequence (" + perSequence + " blocks of " + blockSize + " tokens); raise --kv-blocks or "
                    + "--kv-memory-gib");
        }
        int swap = swapBlocks >= 0 ? swapBlocks : blocks / 4;
        return new EngineConfig(blockSize, blocks, swap, prefixCaching, maxBatchTokens, maxSeqs, preemption);
    }

    /** GPT-2's end-of-text, when the tokenizer has it: completions stop there. */
    static int[] stopTokens(Tokenizer tokenizer) {
        return tokenizer.specialTokenId("<|endoftext|>").stream().toArray();
    }
}
