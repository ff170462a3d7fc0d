/**
 * Token shard files: a corpus encoded once into fixed-width little-endian token ids behind a 32-byte header
 * ({@link ai.fulgur.datasets.shard.ShardHeader}), written atomically ({@link ai.fulgur.datasets.shard.TokenShardWriter}),
 * memory-mapped for reading ({@link ai.fulgur.datasets.shard.TokenShard}, {@link ai.fulgur.datasets.shard.TokenShards}),
 * and produced from text files by {@link ai.fulgur.datasets.shard.ShardPreparer}.
 */
package ai.fulgur.datasets.shard;
