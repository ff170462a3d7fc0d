package ai.fulgur.inference.engine;

import ai.fulgur.inference.kvcache.PoolSizing;
import ai.fulgur.inference.scheduler.PreemptionMode;
import ai.fulgur.inference.scheduler.SchedulerConfig;
import ai.fulgur.training.gpt2.Gpt2Config;

/**
 * The serving engine's settings: the KV pools, the prefix cache and the scheduler's budgets.
 *
 * @param blockSize        tokens per KV block (16 is vLLM's default)
 * @param numDeviceBlocks  blocks of the device pool; {@link #deviceBlocksFor} sizes it from memory
 * @param numCpuBlocks     blocks of the CPU swap pool (0: preemption always recomputes)
 * @param prefixCaching    whether full computed blocks are shared across requests by content hash
 * @param maxTokensPerStep tokens computed in one step (prefill chunks plus decodes)
 * @param maxSequences     sequences in one step
 * @param preemptionMode   SWAP (to the CPU pool while it has room) or RECOMPUTE
 */
public record EngineConfig(int blockSize, int numDeviceBlocks, int numCpuBlocks, boolean prefixCaching,
        int maxTokensPerStep, int maxSequences, PreemptionMode preemptionMode) {

    /** Checks every value and names the bad one. */
    public EngineConfig {
        if (blockSize < 1) {
            throw new IllegalArgumentException("blockSize must be >= 1 token, got " + blockSize);
        }
        if (numDeviceBlocks < 1) {
            throw new IllegalArgumentException("numDeviceBlocks must be >= 1, got " + numDeviceBlocks);
        }
        if (numCpuBlocks < 0) {
            throw new IllegalArgumentException("numCpuBlocks must be >= 0, got " + numCpuBlocks);
        }
        new SchedulerConfig(maxTokensPerStep, maxSequences, preemptionMode); // checks the budgets
    }

    /** 16-token blocks, prefix caching, 2048 tokens and 256 sequences a step, preemption by swapping. */
    public static EngineConfig defaults(int numDeviceBlocks, int numCpuBlocks) {
        return new EngineConfig(16, numDeviceBlocks, numCpuBlocks, true, 2048, 256, PreemptionMode.SWAP);
    }

    /** The scheduler's part. */
    public SchedulerConfig schedulerConfig() {
        return new SchedulerConfig(maxTokensPerStep, maxSequences, preemptionMode);
    }

    /** The same with another preemption mode. */
    public EngineConfig withPreemptionMode(PreemptionMode mode) {
        return new EngineConfig(blockSize, numDeviceBlocks, numCpuBlocks, prefixCaching, maxTokensPerStep,
                maxSequences, mode);
    }

    /**
     * Device blocks that fit {@code freeBytes × utilisation} for {@code model} (see {@link PoolSizing}).
     *
     * @param dtypeBytes bytes of one cached number (4 for FLOAT32, 2 for FLOAT16/BFLOAT16)
     */
    public static int deviceBlocksFor(Gpt2Config model, int blockSize, int dtypeBytes, long freeBytes,
            double utilisation) {
        return PoolSizing.numBlocks(freeBytes, utilisation, model.nLayer(), model.nHead(),
                model.nEmbd() / model.nHead(), blockSize, dtypeBytes);
    }
}
