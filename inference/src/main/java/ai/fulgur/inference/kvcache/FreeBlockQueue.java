package ai.fulgur.inference.kvcache;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * Free blocks in the order they were freed: taken from the head (least recently freed), returned to the tail, and
 * removable from the middle in O(1) (a cached block that gets a prefix hit leaves the queue). A linked hash set gives
 * all three.
 */
final class FreeBlockQueue {
    private final LinkedHashSet<KvBlock> blocks = new LinkedHashSet<>();

    void addLast(KvBlock block) {
        if (!blocks.add(block)) {
            throw new IllegalStateException(block + " is already in the free queue");
        }
    }

    KvBlock pollFirst() {
        return blocks.removeFirst();
    }

    void remove(KvBlock block) {
        if (!blocks.remove(block)) {
            throw new IllegalStateException(block + " is not in the free queue");
        }
    }

    boolean contains(KvBlock block) {
        return blocks.contains(block);
    }

    int size() {
        return blocks.size();
    }

    boolean isEmpty() {
        return blocks.isEmpty();
    }

    /** Block ids, head first. */
    List<Integer> ids() {
        List<Integer> ids = new ArrayList<>(blocks.size());
        for (KvBlock b : blocks) {
            ids.add(b.id());
        }
        return ids;
    }
}
