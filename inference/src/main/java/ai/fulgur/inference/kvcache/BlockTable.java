package ai.fulgur.inference.kvcache;

import java.util.ArrayList;
import java.util.List;

/**
 * One sequence's map from logical block (token position ÷ block size) to physical block, in one pool (device, or the
 * CPU pool while swapped). It grows at the end as tokens are added; a logical block is replaced only by
 * copy-on-write. Beside it runs the sequence's prefix chain: for each leading full, computed block its chained hash
 * and the serial of the cached block that stands for that prefix (0 once the chain is broken by a collision).
 */
public final class BlockTable {
    private final BlockPool pool;
    private final List<KvBlock> blocks = new ArrayList<>();
    private final List<BlockHash> chainHashes = new ArrayList<>();
    private final List<Long> chainSerials = new ArrayList<>();

    BlockTable(BlockPool pool) {
        this.pool = pool;
    }

    /** The pool its blocks belong to. */
    public BlockPool pool() {
        return pool;
    }

    /** Number of logical blocks. */
    public int size() {
        return blocks.size();
    }

    /** The physical block of logical block {@code index}. */
    public KvBlock get(int index) {
        return blocks.get(index);
    }

    /** The physical block ids, logical order: what the attention kernel reads. */
    public int[] physicalIds() {
        int[] ids = new int[blocks.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = blocks.get(i).id();
        }
        return ids;
    }

    List<KvBlock> blocks() {
        return blocks;
    }

    void add(KvBlock block) {
        blocks.add(block);
    }

    void set(int index, KvBlock block) {
        blocks.set(index, block);
    }

    int chainLength() {
        return chainHashes.size();
    }

    BlockHash chainHash(int index) {
        return chainHashes.get(index);
    }

    long chainSerial(int index) {
        return chainSerials.get(index);
    }

    void extendChain(BlockHash hash, long serial) {
        chainHashes.add(hash);
        chainSerials.add(serial);
    }

    void copyChainFrom(BlockTable other) {
        chainHashes.addAll(other.chainHashes);
        chainSerials.addAll(other.chainSerials);
    }

    @Override
    public String toString() {
        return pool.name() + blocks.stream().map(KvBlock::id).toList();
    }
}
