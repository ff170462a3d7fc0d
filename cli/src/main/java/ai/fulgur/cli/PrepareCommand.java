package ai.fulgur.cli;

import ai.fulgur.datasets.progress.ProgressBar;
import ai.fulgur.datasets.shard.PreparedShards;
import ai.fulgur.datasets.shard.ShardPreparer;
import ai.fulgur.datasets.tokenizer.Tokenizers;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * {@code fulgur prepare INPUT... --out DIR}: tokenizes text files (or directories of them) into token shard files,
 * split into training and validation shards, with a progress bar.
 */
final class PrepareCommand implements Command {

    @Override
    public String summary() {
        return "tokenize text files into train/validation token shards";
    }

    @Override
    public String usage() {
        return """
                usage: fulgur prepare FILE|DIR [FILE|DIR ...] --out DIR [options]
                  --out DIR         where the shards go (train_*.tok, val_*.tok)                      (required)
                  --tokenizer T     gpt2, bert, or a directory of tokenizer files                   [gpt2]
                  --val X           fraction of the tokens held out for validation (the last ones)  [0.1]
                  --shard-tokens N  start a new shard after this many tokens                        [100000000]
                  --overwrite       replace shards already in --out
                """;
    }

    @Override
    public int run(Args args, PrintStream out, PrintStream err) throws Exception {
        if (args.help()) {
            out.print(usage());
            return 0;
        }
        if (args.positional().isEmpty()) {
            throw new Args.UsageException("name at least one text file or directory to prepare");
        }
        String outDir = args.string("out", null);
        if (outDir == null) {
            throw new Args.UsageException("--out DIR is required");
        }
        var tokenizer = Tokenizers.byName(args.string("tokenizer", "gpt2"));
        double val = args.number("val", 0.1, 0);
        if (val >= 1) {
            throw new Args.UsageException("--val must be below 1, got " + val);
        }
        int shardTokens = args.integer("shard-tokens", 100_000_000, 1);
        boolean overwrite = args.flag("overwrite");
        args.finish();
        PreparedShards result;
        try (ProgressBar bar = ProgressBar.builder("prepare").optUnit("B").optOutput(out).build()) {
            ShardPreparer preparer = ShardPreparer.builder(tokenizer).optValidationFraction(val)
                    .optMaxTokensPerShard(shardTokens).optOverwrite(overwrite).optProgress(bar::update).build();
            result = preparer.prepare(args.positional().stream().map(Path::of).toList(), Path.of(outDir));
        }
        out.printf("%,d documents, %,d bytes -> %,d training tokens in %d shard(s), %,d validation tokens in %d "
                + "shard(s), in %s%n", result.documents(), result.bytes(), result.trainTokens(),
                result.trainShards().size(), result.validationTokens(), result.validationShards().size(),
                Path.of(outDir).toAbsolutePath());
        return 0;
    }
}
