package ai.fulgur.datasets.shard;

import ai.fulgur.datasets.tokenizer.Gpt2Tokenizer;
import ai.fulgur.datasets.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.stream.Stream;

/**
 * Turns text files into token shards: each file is one document, encoded with a {@link Tokenizer}; documents are
 * joined by a separator token (GPT-2's {@code <|endoftext|>} by default, when the vocabulary has it); the last
 * {@code validationFraction} of all tokens become the validation split and the rest the training split; each split
 * is cut into shards of at most {@code maxTokensPerShard} tokens.
 *
 * <pre>
 *   directory/train_000000.tok, train_000001.tok, ...   the first (1 - f) of the tokens
 *   directory/val_000000.tok, ...                       the last f
 * </pre>
 *
 * Files are read in pieces ({@link TextChunks}), so a file need not fit in memory, and the result equals encoding
 * each whole file. Since the split point is only known once all tokens are counted, tokens go first to one scratch
 * shard in the output directory, which is then copied into the splits and deleted. Every shard appears atomically
 * ({@link TokenShardWriter}). Reopen a split with {@link TokenShards#openSplit}.
 */
public final class ShardPreparer {

    /** Split name of the training shards. */
    public static final String TRAIN = "train";
    /** Split name of the validation shards. */
    public static final String VALIDATION = "val";

    /** Told how far tokenization has come. */
    @FunctionalInterface
    public interface ProgressListener {
        /**
         * @param bytesDone bytes of text read so far
         * @param bytesTotal bytes of all input files
         */
        void update(long bytesDone, long bytesTotal);
    }

    private static final String SCRATCH = ".prepare-scratch";
    private static final int COPY_BLOCK = 1 << 20;

    private final Tokenizer tokenizer;
    private final double validationFraction;
    private final long maxTokensPerShard;
    private final int separator; // -1: none
    private final ProgressListener progress;
    private final int chunkChars;
    private final boolean overwrite;

    private ShardPreparer(Builder builder) {
        this.tokenizer = builder.tokenizer;
        this.validationFraction = builder.validationFraction;
        this.maxTokensPerShard = builder.maxTokensPerShard;
        this.separator = builder.separator;
        this.progress = builder.progress;
        this.chunkChars = builder.chunkChars;
        this.overwrite = builder.overwrite;
    }

    /**
     * @param tokenizer encodes the text; its vocabulary size fixes the shards' token type
     * @return a builder with the defaults: 10% validation, 100M tokens per shard, {@code <|endoftext|>} between
     *     documents if the vocabulary has it
     */
    public static Builder builder(Tokenizer tokenizer) {
        return new Builder(tokenizer);
    }

    /**
     * Encodes one text file, or every {@code *.txt} file under a directory (recursively, sorted by path).
     *
     * @see #prepare(List, Path)
     */
    public PreparedShards prepare(Path input, Path outputDirectory) throws IOException {
        return prepare(textFiles(input), outputDirectory);
    }

    /**
     * Encodes the files, in the given order, into shards in {@code outputDirectory} (created if missing).
     *
     * @throws NoSuchFileException naming a missing input file
     * @throws IllegalArgumentException if the corpus has no tokens (naming the files), is too small to hold out the
     *     validation fraction, or the directory already holds shards and overwriting was not asked for
     */
    public PreparedShards prepare(List<Path> textFiles, Path outputDirectory) throws IOException {
        if (textFiles.isEmpty()) {
            throw new IllegalArgumentException("no text files given to prepare");
        }
        long totalBytes = 0;
        for (Path file : textFiles) {
            if (!Files.isRegularFile(file)) {
                throw new NoSuchFileException(file.toString(), null, "text file not found");
            }
            totalBytes += Files.size(file);
        }
        Files.createDirectories(outputDirectory);
        clearOldShards(outputDirectory);

        Path scratchFile = outputDirectory.resolve(SCRATCH);
        try {
            int documents = encodeAll(textFiles, scratchFile, totalBytes);
            try (TokenShard all = TokenShard.open(scratchFile)) {
                long total = all.size();
                if (total == 0) {
                    throw new IllegalArgumentException("the corpus has no tokens: " + describe(textFiles)
                            + " hold no text; expected at least one non-empty UTF-8 file");
                }
                long validation = Math.round(total * validationFraction);
                if (validationFraction > 0 && (validation == 0 || validation == total)) {
                    throw new IllegalArgumentException("a corpus of " + total + " tokens is too small to hold out "
                            + validationFraction + " of it for validation (" + describe(textFiles)
                            + "); give more text or set the validation fraction to 0");
                }
                List<Path> train = copySplit(all, 0, total - validation, outputDirectory, TRAIN);
                List<Path> val = copySplit(all, total - validation, validation, outputDirectory, VALIDATION);
                return new PreparedShards(train, val, total - validation, validation, documents, totalBytes);
            }
        } finally {
            Files.deleteIfExists(scratchFile);
        }
    }

    /** Encodes every file into one scratch shard; @return the number of non-empty documents. */
    private int encodeAll(List<Path> textFiles, Path scratchFile, long totalBytes) throws IOException {
        int documents = 0;
        long bytesBefore = 0;
        TokenShardWriter out = new TokenShardWriter(scratchFile, tokenizer.vocabSize());
        try {
            for (Path file : textFiles) {
                boolean empty = true;
                try (TextChunks chunks = new TextChunks(file, chunkChars)) {
                    for (String chunk = chunks.next(); chunk != null; chunk = chunks.next()) {
                        int[] ids = tokenizer.encode(chunk);
                        if (empty && ids.length > 0) {
                            empty = false;
                            if (documents > 0 && separator >= 0) {
                                out.write(separator);
                            }
                            documents++;
                        }
                        out.write(ids);
                        progress.update(bytesBefore + chunks.bytesRead(), totalBytes);
                    }
                }
                bytesBefore += Files.size(file);
                progress.update(bytesBefore, totalBytes);
            }
        } catch (IOException | RuntimeException e) {
            out.abort();
            throw e;
        }
        out.close();
        return documents;
    }

    /** Copies {@code [from, from + count)} of {@code all} into shards {@code <split>_NNNNNN.tok}. */
    private List<Path> copySplit(TokenShard all, long from, long count, Path directory, String split)
            throws IOException {
        List<Path> files = new ArrayList<>();
        int[] block = new int[(int) Math.min(COPY_BLOCK, Math.max(1, count))];
        long done = 0;
        while (done < count) {
            long shardTokens = Math.min(maxTokensPerShard, count - done);
            Path file = directory.resolve(String.format("%s_%06d%s", split, files.size(), TokenShards.EXTENSION));
            TokenShardWriter out = new TokenShardWriter(file, all.vocabSize());
            try {
                for (long written = 0; written < shardTokens; ) {
                    int n = (int) Math.min(block.length, shardTokens - written);
                    all.read(from + done + written, block, 0, n);
                    out.write(block, 0, n);
                    written += n;
                }
            } catch (IOException | RuntimeException e) {
                out.abort();
                throw e;
            }
            out.close();
            files.add(file);
            done += shardTokens;
        }
        return files;
    }

    /** Refuses, or with overwrite deletes, shards of an earlier run that a split's glob would pick up. */
    private void clearOldShards(Path directory) throws IOException {
        List<Path> old = new ArrayList<>();
        for (String split : List.of(TRAIN, VALIDATION)) {
            try {
                old.addAll(TokenShards.list(directory, split + "_*" + TokenShards.EXTENSION));
            } catch (NoSuchFileException none) {
                // nothing to clear for this split
            }
        }
        if (old.isEmpty()) {
            return;
        }
        if (!overwrite) {
            throw new IllegalArgumentException(directory + " already holds " + old.size() + " shards ("
                    + old.getFirst().getFileName() + ", ...); choose an empty directory or ask to overwrite them");
        }
        for (Path file : old) {
            Files.delete(file);
        }
    }

    /** @return the input file, or the {@code *.txt} files under a directory, sorted by path */
    static List<Path> textFiles(Path input) throws IOException {
        if (Files.isRegularFile(input)) {
            return List.of(input);
        }
        if (!Files.isDirectory(input)) {
            throw new NoSuchFileException(input.toString(), null, "text file or directory not found");
        }
        List<Path> files;
        try (Stream<Path> walk = Files.walk(input)) {
            files = walk.filter(p -> Files.isRegularFile(p) && p.getFileName().toString().endsWith(".txt"))
                    .sorted()
                    .toList();
        }
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no *.txt files under " + input + "; expected UTF-8 text files");
        }
        return files;
    }

    private static String describe(List<Path> files) {
        if (files.size() <= 3) {
            return files.toString();
        }
        return "[" + files.get(0) + ", " + files.get(1) + ", ... " + files.size() + " files]";
    }

    /** Options of a {@link ShardPreparer}. */
    public static final class Builder {
        private final Tokenizer tokenizer;
        private double validationFraction = 0.1;
        private long maxTokensPerShard = 100_000_000;
        private int separator;
        private ProgressListener progress = (done, total) -> { };
        private int chunkChars = 1 << 20;
        private boolean overwrite;

        private Builder(Tokenizer tokenizer) {
            this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
            OptionalInt endOfText = tokenizer.specialTokenId(Gpt2Tokenizer.END_OF_TEXT);
            this.separator = endOfText.orElse(-1);
        }

        /** @param fraction the share of tokens, at the end of the corpus, held out for validation; default 0.1 */
        public Builder optValidationFraction(double fraction) {
            if (!(fraction >= 0 && fraction < 1)) {
                throw new IllegalArgumentException("validation fraction must be in [0, 1), got " + fraction);
            }
            this.validationFraction = fraction;
            return this;
        }

        /** @param tokens the most tokens in one shard file; default 100,000,000 (200 MB of uint16) */
        public Builder optMaxTokensPerShard(long tokens) {
            if (tokens < 1) {
                throw new IllegalArgumentException("max tokens per shard must be at least 1, got " + tokens);
            }
            this.maxTokensPerShard = tokens;
            return this;
        }

        /**
         * @param tokenId the token written between two documents; default {@code <|endoftext|>} when the
         *     vocabulary has it
         */
        public Builder optDocumentSeparator(int tokenId) {
            if (tokenId < 0 || tokenId >= tokenizer.vocabSize()) {
                throw new IllegalArgumentException("separator token " + tokenId + " is outside the vocabulary [0, "
                        + tokenizer.vocabSize() + ")");
            }
            this.separator = tokenId;
            return this;
        }

        /** Writes no token between documents. */
        public Builder optNoDocumentSeparator() {
            this.separator = -1;
            return this;
        }

        /** @param listener told the bytes read after each piece of text, e.g. a progress bar's update */
        public Builder optProgress(ProgressListener listener) {
            this.progress = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** @param chars the size of the text pieces encoded at a time; default 1M characters */
        public Builder optChunkChars(int chars) {
            if (chars < 1) {
                throw new IllegalArgumentException("chunk size must be at least 1 character, got " + chars);
            }
            this.chunkChars = chars;
            return this;
        }

        /** @param overwrite whether to delete shards of an earlier run in the output directory; default false */
        public Builder optOverwrite(boolean overwrite) {
            this.overwrite = overwrite;
            return this;
        }

        /** @return the preparer */
        public ShardPreparer build() {
            return new ShardPreparer(this);
        }
    }
}
