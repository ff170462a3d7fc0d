package ai.fulgur.inference.kvcache;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.ToIntFunction;

/**
 * The KV cache manager the scheduler talks to: a device pool, a CPU swap pool and one {@link BlockTable} per live
 * sequence. Running out of blocks is an expected answer of the {@code can…} methods (the scheduler then preempts);
 * acting without room is a bug and throws.
 *
 * <p>The life of a sequence's blocks:
 * <pre>
 *   allocate(group)     prompt blocks; leading full blocks found in the prefix cache are shared (count + 1) and
 *                       count as computed
 *   appendSlots(seq, n) room for the next n tokens; a shared block about to be written is copied first
 *   cacheComputedBlocks full, computed blocks enter the prefix cache (hash chained with the prefix)
 *   fork(parent, child) the child shares every block of the parent (count + 1 each)
 *   swapOut / swapIn    the group's blocks move device ⇄ CPU, sharing preserved
 *   free(seq)           every reference dropped, last block first (so the tail is evicted first)
 * </pre>
 * Copy-on-write happens in one place, {@link #appendSlots}: the invariant is that a block with count &gt; 1 is never
 * written. A block is cached only once its tokens are computed, so no request reuses keys and values that no one
 * has written yet.
 */
public final class BlockManager {
    private final int blockSize;
    private final BlockPool device;
    private final BlockPool cpu;
    private final boolean prefixCaching;
    private final PrefixHasher hasher;
    private final Map<Sequence, BlockTable> tables = new IdentityHashMap<>();

    /**
     * A manager over fresh pools.
     *
     * @param blockSize       tokens per block (16 by default in the engine)
     * @param numDeviceBlocks device pool capacity (see {@link PoolSizing})
     * @param numCpuBlocks    CPU swap pool capacity (0: no swapping)
     * @param prefixCaching   whether full computed blocks are shared across requests by content hash
     * @param hasher          the prefix hash ({@link PrefixHasher#SHA_256}); may be null without prefix caching
     */
    public BlockManager(int blockSize, int numDeviceBlocks, int numCpuBlocks, boolean prefixCaching,
            PrefixHasher hasher) {
        if (blockSize < 1) {
            throw new IllegalArgumentException("blockSize must be >= 1 token, got " + blockSize);
        }
        if (prefixCaching && hasher == null) {
            throw new IllegalArgumentException("prefix caching needs a hasher, got null; pass PrefixHasher.SHA_256");
        }
        this.blockSize = blockSize;
        this.device = new BlockPool("device", numDeviceBlocks);
        this.cpu = new BlockPool("cpu", numCpuBlocks);
        this.prefixCaching = prefixCaching;
        this.hasher = hasher;
    }

    /** A manager with SHA-256 prefix caching. */
    public BlockManager(int blockSize, int numDeviceBlocks, int numCpuBlocks) {
        this(blockSize, numDeviceBlocks, numCpuBlocks, true, PrefixHasher.SHA_256);
    }

    /** Tokens per block. */
    public int blockSize() {
        return blockSize;
    }

    /** The device pool (read it; change it only through this manager). */
    public BlockPool devicePool() {
        return device;
    }

    /** The CPU swap pool. */
    public BlockPool cpuPool() {
        return cpu;
    }

    /** Device blocks free or evictable. */
    public int numFreeBlocks() {
        return device.numFreeBlocks();
    }

    /** CPU blocks free. */
    public int numFreeCpuBlocks() {
        return cpu.numFreeBlocks();
    }

    /** The sequence's block table, if it holds blocks. */
    public Optional<BlockTable> table(Sequence seq) {
        return Optional.ofNullable(tables.get(seq));
    }

    /** Blocks needed to hold {@code tokens} tokens. */
    public int blocksFor(int tokens) {
        return (tokens + blockSize - 1) / blockSize;
    }

    // ---------------------------------------------------------------- allocation of waiting sequences

    /**
     * Whether the group's waiting sequences fit the device pool: blocks for all their tokens, less prefix-cache hits
     * that are referenced already (a hit on an evictable block still takes one block from the free count).
     */
    public AllocationStatus canAllocate(SequenceGroup group) {
        int total = 0;
        int needed = 0;
        for (Sequence seq : group.sequences(SequenceStatus.WAITING)) {
            int blocks = blocksFor(seq.tokenCount());
            total += blocks;
            needed += blocks;
            for (KvBlock hit : prefixHits(seq)) {
                if (hit.refCount() > 0) {
                    needed--;
                }
            }
        }
        if (total > device.capacity()) {
            return AllocationStatus.NEVER;
        }
        return needed <= device.numFreeBlocks() ? AllocationStatus.OK : AllocationStatus.LATER;
    }

    /**
     * Gives each waiting sequence of the group a block table covering all its tokens. Leading full blocks found in
     * the prefix cache are shared and their tokens count as computed, but at least the last token is always left to
     * compute (its logits give the next token) and the block it lies in is never a shared one.
     *
     * @throws IllegalStateException if a sequence already holds blocks or the pool runs out (check canAllocate)
     */
    public void allocate(SequenceGroup group) {
        for (Sequence seq : group.sequences(SequenceStatus.WAITING)) {
            if (tables.containsKey(seq)) {
                throw new IllegalStateException(seq + " already holds blocks " + tables.get(seq));
            }
            BlockTable table = new BlockTable(device);
            List<KvBlock> hits = prefixHits(seq);
            for (KvBlock hit : hits) {
                device.retain(hit); // hits first: allocating new blocks could otherwise evict a later hit
                table.add(hit);
                table.extendChain(hit.hash(), hit.serial());
            }
            int needed = blocksFor(seq.tokenCount());
            while (table.size() < needed) {
                table.add(device.allocate());
            }
            seq.setNumComputedTokens(hits.size() * blockSize);
            tables.put(seq, table);
        }
    }

    /** The chain of cached blocks matching the sequence's leading full blocks, stopping at the first miss. */
    private List<KvBlock> prefixHits(Sequence seq) {
        List<KvBlock> hits = new ArrayList<>();
        if (!prefixCaching) {
            return hits;
        }
        // (tokenCount − 1) / blockSize: the block holding the last token is always computed, never shared
        int candidates = (seq.tokenCount() - 1) / blockSize;
        BlockHash parent = null;
        long parentSerial = 0;
        for (int i = 0; i < candidates; i++) {
            int[] tokens = seq.tokens(i * blockSize, (i + 1) * blockSize);
            BlockHash hash = hasher.hash(parent, tokens);
            Optional<KvBlock> hit = device.lookup(hash, tokens, parentSerial);
            if (hit.isEmpty()) {
                break;
            }
            hits.add(hit.get());
            parent = hash;
            parentSerial = hit.get().serial();
        }
        return hits;
    }

    // ---------------------------------------------------------------- appending and copy-on-write

    /**
     * New device blocks that {@link #appendSlots} would take for these sequences and token counts, counting
     * copy-on-write exactly: of k sequences writing one block shared only among them, k − 1 copy it and the last
     * writes in place.
     */
    public int numBlocksToAppend(Collection<Sequence> seqs, ToIntFunction<Sequence> numNewTokens) {
        Map<KvBlock, Integer> refsLeft = new HashMap<>();
        int needed = 0;
        for (Sequence seq : seqs) {
            BlockTable table = requireTable(seq);
            int start = seq.numComputedTokens();
            int end = start + numNewTokens.applyAsInt(seq);
            if (end <= start) {
                continue;
            }
            for (int b = start / blockSize; b <= (end - 1) / blockSize; b++) {
                if (b >= table.size()) {
                    needed++;
                    continue;
                }
                KvBlock block = table.get(b);
                int refs = refsLeft.getOrDefault(block, block.refCount());
                if (refs > 1) {
                    needed++;
                    refsLeft.put(block, refs - 1);
                }
            }
        }
        return needed;
    }

    /** Whether {@link #appendSlots} can run for these sequences without running out. */
    public boolean canAppendSlots(Collection<Sequence> seqs, ToIntFunction<Sequence> numNewTokens) {
        return numBlocksToAppend(seqs, numNewTokens) <= device.numFreeBlocks();
    }

    /**
     * Makes the sequence's next {@code numNewTokens} slots, [numComputedTokens, numComputedTokens + n), writable:
     * allocates blocks on demand past the end of its table and replaces each shared block in the range by a private
     * copy.
     *
     * @return the copies the model runner must make before it writes (source → destination, device pool)
     * @throws IllegalArgumentException if the range goes past the sequence's tokens
     * @throws IllegalStateException    if the pool runs out (check canAppendSlots first)
     */
    public List<BlockCopy> appendSlots(Sequence seq, int numNewTokens) {
        BlockTable table = requireTable(seq);
        if (table.pool() != device) {
            throw new IllegalStateException(seq + " is swapped out; swap it in before appending");
        }
        int start = seq.numComputedTokens();
        int end = start + numNewTokens;
        if (numNewTokens < 1 || end > seq.tokenCount()) {
            throw new IllegalArgumentException("cannot append " + numNewTokens + " slots to " + seq
                    + ": the range must hold 1 to " + seq.numUncomputedTokens() + " uncomputed tokens");
        }
        while (table.size() * blockSize < end) {
            table.add(device.allocate());
        }
        List<BlockCopy> copies = new ArrayList<>();
        for (int b = start / blockSize; b <= (end - 1) / blockSize; b++) {
            KvBlock block = table.get(b);
            if (block.refCount() > 1) {
                KvBlock copy = device.allocate();
                device.release(block);
                table.set(b, copy);
                copies.add(new BlockCopy(block.id(), copy.id()));
            } else if (block.isCached()) {
                throw new IllegalStateException("write into cached " + block + " of " + seq
                        + ": only computed blocks are cached, and computed slots are never written again");
            }
        }
        return copies;
    }

    /**
     * Puts the sequence's full, computed device blocks into the prefix cache (no-op without prefix caching or while
     * swapped). Call after a step has computed their tokens.
     */
    public void cacheComputedBlocks(Sequence seq) {
        BlockTable table = requireTable(seq);
        if (!prefixCaching || table.pool() != device) {
            return;
        }
        int full = seq.numComputedTokens() / blockSize;
        for (int i = table.chainLength(); i < full; i++) {
            int[] tokens = seq.tokens(i * blockSize, (i + 1) * blockSize);
            BlockHash parent = i == 0 ? null : table.chainHash(i - 1);
            long parentSerial = i == 0 ? 0 : table.chainSerial(i - 1);
            BlockHash hash = hasher.hash(parent, tokens);
            // a broken chain (serial 0) is extended without registering: its prefix has no cached identity
            long serial = i > 0 && parentSerial == 0 ? 0 : device.register(table.get(i), hash, tokens, parentSerial);
            table.extendChain(hash, serial);
        }
    }

    // ---------------------------------------------------------------- fork and free

    /** Gives {@code child} (new, holding no blocks) the parent's blocks, each shared (count + 1). */
    public void fork(Sequence parent, Sequence child) {
        BlockTable from = requireTable(parent);
        if (tables.containsKey(child)) {
            throw new IllegalStateException("fork into " + child + ", which already holds blocks");
        }
        BlockTable table = new BlockTable(from.pool());
        for (KvBlock block : from.blocks()) {
            from.pool().retain(block);
            table.add(block);
        }
        table.copyChainFrom(from);
        tables.put(child, table);
    }

    /** Drops every reference the sequence holds (device or CPU), last block first; no-op if it holds none. */
    public void free(Sequence seq) {
        BlockTable table = tables.remove(seq);
        if (table == null) {
            return;
        }
        List<KvBlock> blocks = table.blocks();
        for (int i = blocks.size() - 1; i >= 0; i--) {
            table.pool().release(blocks.get(i));
        }
    }

    /** Frees every sequence of the group (a finished or aborted request returns all its blocks). */
    public void free(SequenceGroup group) {
        for (Sequence seq : group.sequences()) {
            free(seq);
        }
    }

    // ---------------------------------------------------------------- swapping

    /** Whether the CPU pool can take the group's device blocks. */
    public boolean canSwapOut(SequenceGroup group) {
        return distinctBlocks(group, device) <= cpu.numFreeBlocks();
    }

    /**
     * Whether the device pool can take the group's CPU blocks back plus what its next step needs
     * ({@code numNewTokens} per sequence, copy-on-write included).
     */
    public boolean canSwapIn(SequenceGroup group, ToIntFunction<Sequence> numNewTokens) {
        List<Sequence> seqs = group.unfinished().stream().filter(s -> tables.containsKey(s)).toList();
        return distinctBlocks(group, cpu) + numBlocksToAppend(seqs, numNewTokens) <= device.numFreeBlocks();
    }

    /** Moves the group's device blocks to the CPU pool; returns the copies device → CPU. */
    public List<BlockCopy> swapOut(SequenceGroup group) {
        return move(group, device, cpu);
    }

    /** Moves the group's CPU blocks back to the device pool; returns the copies CPU → device. */
    public List<BlockCopy> swapIn(SequenceGroup group) {
        return move(group, cpu, device);
    }

    private List<BlockCopy> move(SequenceGroup group, BlockPool from, BlockPool to) {
        if (distinctBlocks(group, from) > to.numFreeBlocks()) {
            throw new IllegalStateException("cannot move request " + group.requestId() + " from pool '" + from.name()
                    + "' to '" + to.name() + "': it holds " + distinctBlocks(group, from) + " blocks, "
                    + to.numFreeBlocks() + " are free; check canSwapOut/canSwapIn first");
        }
        Map<KvBlock, KvBlock> moved = new LinkedHashMap<>(); // shared blocks move once and stay shared
        for (Sequence seq : group.unfinished()) {
            BlockTable old = tables.get(seq);
            if (old == null || old.pool() != from) {
                continue;
            }
            BlockTable table = new BlockTable(to);
            for (KvBlock block : old.blocks()) {
                KvBlock target = moved.get(block);
                if (target == null) {
                    target = to.allocate();
                    moved.put(block, target);
                } else {
                    to.retain(target);
                }
                table.add(target);
            }
            if (to == cpu) {
                table.copyChainFrom(old); // on the way back the chain is rebuilt against the device cache
            }
            for (int i = old.size() - 1; i >= 0; i--) {
                from.release(old.get(i));
            }
            tables.put(seq, table);
        }
        List<BlockCopy> copies = new ArrayList<>();
        moved.forEach((src, dst) -> copies.add(new BlockCopy(src.id(), dst.id())));
        return copies;
    }

    private int distinctBlocks(SequenceGroup group, BlockPool pool) {
        Map<KvBlock, Boolean> seen = new IdentityHashMap<>();
        for (Sequence seq : group.unfinished()) {
            BlockTable table = tables.get(seq);
            if (table != null && table.pool() == pool) {
                table.blocks().forEach(b -> seen.put(b, true));
            }
        }
        return seen.size();
    }

    // ---------------------------------------------------------------- statistics

    /** Device pool usage and waste (slots of referenced blocks holding no token). */
    public KvUsage usage() {
        Map<KvBlock, Integer> filled = new IdentityHashMap<>();
        for (Map.Entry<Sequence, BlockTable> e : tables.entrySet()) {
            BlockTable table = e.getValue();
            if (table.pool() != device) {
                continue;
            }
            int tokens = e.getKey().tokenCount();
            for (int i = 0; i < table.size(); i++) {
                int inBlock = Math.clamp(tokens - (long) i * blockSize, 0, blockSize);
                filled.merge(table.get(i), inBlock, Math::max);
            }
        }
        int used = device.capacity() - device.numFreeBlocks();
        long filledSlots = filled.values().stream().mapToLong(Integer::longValue).sum();
        return new KvUsage(device.capacity(), used, device.numEvictableBlocks(), (long) used * blockSize,
                filledSlots);
    }

    private BlockTable requireTable(Sequence seq) {
        BlockTable table = tables.get(seq);
        if (table == null) {
            throw new IllegalStateException(seq + " holds no blocks: allocate (or fork into) it first");
        }
        return table;
    }
}
