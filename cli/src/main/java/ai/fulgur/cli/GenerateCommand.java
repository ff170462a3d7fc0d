package ai.fulgur.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.fulgur.datasets.tokenizer.Tokenizer;
import ai.fulgur.datasets.tokenizer.Tokenizers;
import ai.fulgur.inference.generate.Generator;
import ai.fulgur.inference.sampling.SamplingParams;
import ai.fulgur.training.gpt2.Gpt2Model;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code fulgur generate --checkpoint DIR --prompt TEXT}: continues a prompt with a GPT-2 checkpoint (Fulgur's or a
 * Hugging Face GPT2LMHeadModel directory), greedy or sampled, over a plain KV cache.
 */
final class GenerateCommand implements Command {

    @Override
    public String summary() {
        return "continue a prompt with a GPT-2 checkpoint (greedy, temperature, top-k, top-p)";
    }

    @Override
    public String usage() {
        return """
                usage: fulgur generate --checkpoint DIR --prompt TEXT [options]
                  --checkpoint DIR  a GPT-2 checkpoint (config.json + model.safetensors)              (required)
                  --prompt TEXT     the text to continue                                             (required)
                  --max-tokens N    tokens to generate at most                                       [100]
                  --temperature X   0 for greedy decoding                                            [0.8]
                  --top-k N         sample among the N most likely tokens (0: all)                   [0]
                  --top-p X         sample within the nucleus of probability X                       [1.0]
                  --n N             number of samples                                                [1]
                  --seed N          sampling seed (sample i uses N + i)                              [random]
                  --tokenizer T     gpt2, bert or a directory                          [the checkpoint's, else gpt2]
                  --device NAME     cpu, gpu or gpu:N                                                [engine default]
                """;
    }

    @Override
    public int run(Args args, PrintStream out, PrintStream err) throws Exception {
        if (args.help()) {
            out.print(usage());
            return 0;
        }
        String checkpoint = args.string("checkpoint", null);
        String prompt = args.string("prompt", null);
        if (checkpoint == null || prompt == null) {
            throw new Args.UsageException("--checkpoint DIR and --prompt TEXT are required");
        }
        Path dir = Path.of(checkpoint);
        boolean hasTokenizer = Files.isRegularFile(dir.resolve("vocab.json"))
                || Files.isRegularFile(dir.resolve("encoder.json"));
        Tokenizer tokenizer = Tokenizers.byName(args.string("tokenizer", hasTokenizer ? checkpoint : "gpt2"));
        int maxTokens = args.integer("max-tokens", 100, 1);
        double temperature = args.number("temperature", 0.8, 0);
        int topK = args.integer("top-k", 0, 0);
        double topP = args.number("top-p", 1.0, 0);
        int n = args.integer("n", 1, 1);
        String seed = args.string("seed", null);
        String device = args.string("device", null);
        args.finish();
        SamplingParams params;
        try {
            params = new SamplingParams(temperature, topK, topP, seed == null ? null : Long.parseLong(seed), maxTokens,
                    tokenizer.specialTokenId("<|endoftext|>").stream().toArray());
        } catch (NumberFormatException e) {
            throw new Args.UsageException("--seed expects an integer, got '" + seed + "'");
        } catch (IllegalArgumentException e) {
            throw new Args.UsageException(e.getMessage());
        }
        Engine engine = Engine.getEngine("Fulgur");
        Device dev = ai.fulgur.autograd.djl.DeviceNames.parse(device, engine);
        try (Gpt2Model model = Gpt2Model.load(dir, dev, "Fulgur")) {
            if (tokenizer.vocabSize() > model.getConfig().vocabSize()) {
                throw new Args.UsageException("the tokenizer has " + tokenizer.vocabSize() + " tokens but the model "
                        + "only " + model.getConfig().vocabSize() + "; pass the tokenizer it was trained with");
            }
            int[] ids = tokenizer.encode(prompt);
            List<Generator.Completion> completions;
            try {
                completions = new Generator(model).generate(ids, params, n);
            } catch (IllegalArgumentException e) {
                throw new Args.UsageException(e.getMessage());
            }
            for (int i = 0; i < completions.size(); i++) {
                if (n > 1) {
                    out.printf("--- sample %d (%s)%n", i + 1, completions.get(i).finishReason());
                }
                out.println(prompt + tokenizer.decode(completions.get(i).tokens()));
            }
        }
        return 0;
    }
}
