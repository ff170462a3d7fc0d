package ai.fulgur.inference.kvcache;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Test helper: token prefixes interned as nodes of a trie, so a shadow KV slot records exactly which prefix's keys and
 * values it holds in one int. Node 0 is the empty prefix, so a slot holding 0 was never written.
 */
public final class TokenPrefixes {
    private final Map<Long, Integer> children = new HashMap<>();
    private final List<Integer> parent = new ArrayList<>(List.of(-1));
    private final List<Integer> token = new ArrayList<>(List.of(-1));

    /** The node of each prefix tokens[0..p], p = 0 … length − 1. */
    public int[] nodes(int[] tokens) {
        int[] ids = new int[tokens.length];
        int node = 0;
        for (int p = 0; p < tokens.length; p++) {
            long key = ((long) node << 32) | (tokens[p] & 0xffff_ffffL);
            Integer child = children.get(key);
            if (child == null) {
                child = parent.size();
                children.put(key, child);
                parent.add(node);
                token.add(tokens[p]);
            }
            node = child;
            ids[p] = node;
        }
        return ids;
    }

    /** The prefix a node stands for. */
    public int[] tokens(int node) {
        List<Integer> reversed = new ArrayList<>();
        for (int n = node; n > 0; n = parent.get(n)) {
            reversed.add(token.get(n));
        }
        int[] out = new int[reversed.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = reversed.get(out.length - 1 - i);
        }
        return out;
    }
}
