package ai.fulgur.datasets.shard;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Several shards read as one corpus, in the given order: position 0 is the first token of the first shard and the
 * last position the last token of the last one. Reads may cross shard boundaries. All shards must share one
 * vocabulary size. Thread-safe for reading; {@link #close()} unmaps every shard.
 *
 * <pre>
 *   try (TokenShards train = TokenShards.openSplit(Path.of("data/shakespeare"), "train")) { ... }
 * </pre>
 */
public final class TokenShards implements TokenSource, AutoCloseable {

    /** File-name extension of token shards. */
    public static final String EXTENSION = ".tok";

    private final List<TokenShard> shards;
    private final long[] starts; // starts[i] = first global position of shard i; starts[n] = size
    private final int vocabSize;

    private TokenShards(List<TokenShard> shards) throws ShardFormatException {
        this.shards = List.copyOf(shards);
        this.starts = new long[shards.size() + 1];
        for (int i = 0; i < shards.size(); i++) {
            starts[i + 1] = starts[i] + shards.get(i).size();
        }
        TokenShard first = shards.getFirst();
        for (TokenShard shard : shards) {
            if (shard.vocabSize() != first.vocabSize()) {
                throw new ShardFormatException(shard.file(), "vocabulary size " + shard.vocabSize()
                        + " differs from " + first.vocabSize() + " of " + first.file()
                        + "; all shards of a corpus must come from one tokenizer");
            }
        }
        this.vocabSize = first.vocabSize();
    }

    /**
     * Opens the given shards, in order.
     *
     * @throws IllegalArgumentException if the list is empty
     * @throws ShardFormatException naming a bad file, or two files with different vocabulary sizes
     */
    public static TokenShards open(List<Path> files) throws IOException {
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no shard files given; expected at least one " + EXTENSION + " file");
        }
        List<TokenShard> opened = new ArrayList<>(files.size());
        try {
            for (Path file : files) {
                opened.add(TokenShard.open(file));
            }
            return new TokenShards(opened);
        } catch (IOException | RuntimeException e) {
            opened.forEach(TokenShard::close);
            throw e;
        }
    }

    /**
     * Opens every {@code *.tok} file in a directory (not its subdirectories), sorted by file name.
     *
     * @throws NoSuchFileException if the directory does not exist or holds no shard
     */
    public static TokenShards openDirectory(Path directory) throws IOException {
        return open(list(directory, "*" + EXTENSION));
    }

    /**
     * Opens one split written by {@link ShardPreparer}: the files {@code <split>_*.tok} of a directory, sorted by
     * name, e.g. {@code train_000000.tok, train_000001.tok}.
     *
     * @param split the split's name, e.g. {@code "train"} or {@code "val"}
     * @throws NoSuchFileException if the directory does not exist or holds no shard of that split
     */
    public static TokenShards openSplit(Path directory, String split) throws IOException {
        return open(list(directory, split + "_*" + EXTENSION));
    }

    /**
     * @param glob a file-name pattern, as {@link Files#newDirectoryStream(Path, String)} takes
     * @return the matching regular files of the directory, sorted by name
     * @throws NoSuchFileException naming the directory and the pattern when nothing matches
     */
    static List<Path> list(Path directory, String glob) throws IOException {
        if (!Files.isDirectory(directory)) {
            throw new NoSuchFileException(directory.toString(), null, "shard directory not found");
        }
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(directory, glob)) {
            for (Path file : stream) {
                if (Files.isRegularFile(file)) {
                    files.add(file);
                }
            }
        }
        if (files.isEmpty()) {
            throw new NoSuchFileException(directory.toString(), null, "no token shards matching " + glob);
        }
        files.sort(null);
        return files;
    }

    /** @return the total number of tokens */
    @Override
    public long size() {
        return starts[shards.size()];
    }

    @Override
    public int get(long index) {
        Objects.checkIndex(index, size());
        int shard = shardOf(index);
        return shards.get(shard).get(index - starts[shard]);
    }

    @Override
    public void read(long from, int[] dst, int offset, int length) {
        Objects.checkFromIndexSize(from, length, size());
        Objects.checkFromIndexSize(offset, length, dst.length);
        if (length == 0) {
            return;
        }
        int shard = shardOf(from);
        while (length > 0) {
            long local = from - starts[shard];
            int n = (int) Math.min(length, starts[shard + 1] - from);
            shards.get(shard).read(local, dst, offset, n);
            from += n;
            offset += n;
            length -= n;
            shard++;
        }
    }

    /** @return the index of the shard holding global position {@code index}, skipping empty shards */
    private int shardOf(long index) {
        int i = Arrays.binarySearch(starts, index);
        if (i < 0) {
            return -i - 2; // the last start below index
        }
        while (starts[i + 1] == index) {
            i++; // empty shards share their start with the next one
        }
        return i;
    }

    /** @return the shards, in corpus order */
    public List<TokenShard> shards() {
        return shards;
    }

    /** @return the vocabulary size shared by all shards */
    public int vocabSize() {
        return vocabSize;
    }

    /** Unmaps every shard. */
    @Override
    public void close() {
        shards.forEach(TokenShard::close);
    }

    @Override
    public String toString() {
        return "TokenShards[" + shards.size() + " shards, " + size() + " tokens]";
    }
}
