/**
 * The paged KV cache's bookkeeping, as pure Java over block ids (no tensors): fixed-size blocks in a device pool and
 * a CPU swap pool ({@link ai.fulgur.inference.kvcache.BlockPool}), per-sequence block tables, reference counts with
 * copy-on-write, prefix sharing by a chained content hash with LRU eviction, and the
 * {@link ai.fulgur.inference.kvcache.BlockManager} facade the scheduler talks to. The request state both share
 * ({@link ai.fulgur.inference.kvcache.Sequence}, {@link ai.fulgur.inference.kvcache.SequenceGroup}) lives here so
 * that the dependency runs scheduler → kvcache only.
 */
package ai.fulgur.inference.kvcache;
