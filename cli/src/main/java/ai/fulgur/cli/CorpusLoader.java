package ai.fulgur.cli;

import ai.fulgur.datasets.shard.TokenShards;
import ai.fulgur.datasets.shard.TokenSource;
import ai.fulgur.datasets.tokenizer.BpeTrainer;
import ai.fulgur.datasets.tokenizer.Gpt2Tokenizer;
import ai.fulgur.datasets.tokenizer.Tokenizer;
import ai.fulgur.datasets.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/**
 * The training data of a command line: a directory of token shards made by {@code fulgur prepare} (train_* and
 * val_*), or text (a file, or the .txt files of a directory) tokenized in memory and split 90/10, with a tokenizer
 * named by the user or, for {@code bpe:N}, learned from the text first.
 */
record CorpusLoader(Tokenizer tokenizer, TokenSource train, TokenSource validation, String description) {

    static CorpusLoader load(String data, String tokenizerSpec, java.io.PrintStream out) throws IOException {
        Path path = Path.of(data);
        if (!Files.exists(path)) {
            throw new NoSuchFileException(data, null, "no training data there: expected a text file, a directory of "
                    + ".txt files, or a directory of shards from 'fulgur prepare'");
        }
        if (Files.isDirectory(path) && hasShards(path)) {
            if (tokenizerSpec.startsWith("bpe:")) {
                throw new Args.UsageException("--tokenizer bpe:N learns from text; " + data + " holds shards, which "
                        + "were tokenized by 'fulgur prepare' — pass the same --tokenizer as then");
            }
            TokenShards train = TokenShards.openSplit(path, "train");
            TokenShards val = TokenShards.openSplit(path, "val");
            return new CorpusLoader(Tokenizers.byName(tokenizerSpec), train, val, String.format(
                    "%,d training and %,d validation tokens from the shards in %s", train.size(), val.size(), data));
        }
        List<Path> files = new ArrayList<>();
        if (Files.isDirectory(path)) {
            try (Stream<Path> s = Files.walk(path)) {
                s.filter(p -> p.toString().endsWith(".txt") && Files.isRegularFile(p)).sorted().forEach(files::add);
            }
        } else {
            files.add(path);
        }
        StringBuilder text = new StringBuilder();
        for (Path f : files) {
            text.append(Files.readString(f));
        }
        if (text.isEmpty()) {
            throw new IOException("the corpus " + data + " is empty (files read: " + files + ")");
        }
        Tokenizer tokenizer;
        if (tokenizerSpec.startsWith("bpe:")) {
            int size = parseVocab(tokenizerSpec);
            out.printf("learning a byte-level BPE of %d tokens from %s%n", size, data);
            tokenizer = new Gpt2Tokenizer(BpeTrainer.builder().setVocabSize(size).build()
                    .train(List.of(text.substring(0, Math.min(text.length(), 2_000_000)))));
        } else {
            tokenizer = Tokenizers.byName(tokenizerSpec);
        }
        int[] all = tokenizer.encode(text.toString());
        int cut = all.length - Math.max(1, all.length / 10);
        return new CorpusLoader(tokenizer, TokenSource.of(Arrays.copyOf(all, cut)),
                TokenSource.of(Arrays.copyOfRange(all, cut, all.length)), String.format(
                        "%,d characters -> %,d training and %,d validation tokens (vocabulary %,d)", text.length(),
                        cut, all.length - cut, tokenizer.vocabSize()));
    }

    private static boolean hasShards(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(p -> p.getFileName().toString().endsWith(TokenShards.EXTENSION));
        }
    }

    private static int parseVocab(String spec) {
        try {
            int n = Integer.parseInt(spec.substring(4));
            if (n < 257) {
                throw new Args.UsageException("--tokenizer bpe:N needs N >= 257 (256 bytes + end of text), got " + n);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new Args.UsageException("--tokenizer bpe:N expects a number N, got '" + spec + "'");
        }
    }
}
