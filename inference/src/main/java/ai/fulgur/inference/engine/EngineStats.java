package ai.fulgur.inference.engine;

import ai.fulgur.inference.kvcache.KvUsage;

/**
 * A snapshot of the engine's load, for metrics and health.
 *
 * @param running         requests being computed
 * @param waiting         requests queued, not yet admitted
 * @param swapped         requests preempted to CPU memory
 * @param deviceKv        device KV pool: blocks used, free, cached; slots allocated and filled (waste)
 * @param freeCpuBlocks   free blocks of the CPU swap pool
 * @param generatedTokens tokens generated since the engine started
 * @param promptTokens    prompt tokens computed since the engine started (prefix-cache hits excluded)
 */
public record EngineStats(int running, int waiting, int swapped, KvUsage deviceKv, int freeCpuBlocks,
        long generatedTokens, long promptTokens) {
}
