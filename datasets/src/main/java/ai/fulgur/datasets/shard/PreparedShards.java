package ai.fulgur.datasets.shard;

import java.nio.file.Path;
import java.util.List;

/**
 * What {@link ShardPreparer#prepare} wrote.
 *
 * @param trainShards the training shards, in corpus order ({@code train_000000.tok}, ...)
 * @param validationShards the validation shards ({@code val_000000.tok}, ...); empty when no fraction was held out
 * @param trainTokens tokens in the training shards
 * @param validationTokens tokens in the validation shards, the last ones of the corpus
 * @param documents the non-empty input files encoded
 * @param bytes the bytes of text read
 */
public record PreparedShards(List<Path> trainShards, List<Path> validationShards, long trainTokens,
        long validationTokens, int documents, long bytes) {

    /** Copies the lists. */
    public PreparedShards {
        trainShards = List.copyOf(trainShards);
        validationShards = List.copyOf(validationShards);
    }

    /** @return all tokens written, separators included */
    public long totalTokens() {
        return trainTokens + validationTokens;
    }
}
