package ai.fulgur.autograd;

import ai.fulgur.ops.Checks;
import ai.fulgur.ops.Storage;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.Elementwise;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reverse-mode differentiation: sorts the graph below an output topologically, then runs each op's backward in
 * reverse order, summing the gradients that reach an op along several paths and accumulating (+=) into leaves.
 */
final class Tape {
    private Tape() {}

    static void backward(Variable root, Tensor gradRoot, boolean retainGraph) {
        if (!root.requiresGrad()) {
            throw new IllegalStateException("backward: the output " + root.shape() + " does not require a gradient: none"
                    + " of the inputs it was computed from has requiresGrad set, or it was computed with grad mode off");
        }
        Tensor seed = gradRoot;
        if (seed == null) {
            if (root.data().numel() != 1) {
                throw new IllegalArgumentException("backward() without an output gradient needs a scalar output, but the"
                        + " output has shape " + root.shape() + "; pass a gradient of that shape, e.g. ones");
            }
            seed = Elementwise.onesLike(root.data());
        } else if (!seed.shape().equals(root.shape())) {
            throw new IllegalArgumentException("backward: " + Checks.describe("gradient", seed)
                    + " does not match the output's shape " + root.shape());
        }
        if (root.isLeaf()) {
            root.expectContributions(1);
            root.accumulateGrad(seed);
            root.contributionDone();
            return;
        }
        List<Function> order = topologicalOrder(root.gradFn());
        // each leaf's gradient is final once every recorded op reading it has run backward: count those reads, so
        // its gradient-ready hooks run at its last contribution, while the rest of the pass still runs
        Map<Variable, Integer> owed = new IdentityHashMap<>();
        for (Function fn : order) {
            for (Variable v : fn.inputs()) {
                if (v != null && v.isLeaf() && v.requiresGrad()) {
                    owed.merge(v, 1, Integer::sum);
                }
            }
        }
        owed.forEach(Variable::expectContributions);
        try {
            walk(order, root, seed, retainGraph, owed);
        } finally {
            // a pass that failed part-way owes the rest: forget them, so a later pass's hooks still run
            owed.forEach((v, n) -> v.expectContributions(-n));
        }
    }

    private static void walk(List<Function> order, Variable root, Tensor seed, boolean retainGraph,
            Map<Variable, Integer> owed) {
        Map<Function, Tensor> pending = new IdentityHashMap<>();
        // Gradients made during this backward are freed as soon as nothing needs them, not when the JVM next
        // collects garbage: on a GPU they are most of a step's memory. A storage is freed when no pending gradient
        // refers to it (views share storages, and ADD passes one tensor to both inputs, so references are counted).
        // Only storages made here are freed: the seed is the caller's, and leaves keep copies, never these.
        Map<Storage, Integer> references = new IdentityHashMap<>();
        Storage seedStorage = seed.storage();
        pending.put(root.gradFn(), seed);
        reference(references, seed);
        for (Function fn : order) {
            Tensor g = pending.remove(fn);
            Variable[] inputs = fn.inputs();
            if (g == null) {
                // no gradient flowed here (every path from the output gave null): its leaves get nothing from it
                for (Variable v : inputs) {
                    settle(owed, v);
                }
                continue;
            }
            Tensor[] grads = fn.runBackward(g);
            List<Tensor> done = new ArrayList<>();
            done.add(g);
            for (int i = 0; i < inputs.length; i++) {
                Variable v = inputs[i];
                if (v == null || !v.requiresGrad() || grads[i] == null) {
                    settle(owed, v);
                    continue;
                }
                if (!grads[i].shape().equals(v.shape())) {
                    throw new IllegalStateException(fn.name() + ".backward produced a gradient of shape "
                            + grads[i].shape() + " for input " + i + " of shape " + v.shape());
                }
                if (v.isLeaf()) {
                    v.accumulateGrad(grads[i]);
                    done.add(grads[i]);
                    settle(owed, v);
                } else {
                    Tensor previous = pending.get(v.gradFn());
                    Tensor sum = previous == null ? grads[i] : Elementwise.add(previous, grads[i]);
                    pending.put(v.gradFn(), sum);
                    reference(references, sum);
                    if (previous != null) {
                        release(references, previous);
                        done.add(previous);
                        done.add(grads[i]);
                    }
                }
            }
            release(references, g);
            for (Tensor t : done) {
                Storage st = t.storage();
                if (st != seedStorage && !references.containsKey(st)) {
                    st.close();
                }
            }
            if (!retainGraph) {
                for (Variable v : inputs) {
                    // an engine-made input (an autocast cast) whose readers have all run backward is dead
                    if (v != null && v.isInternal() && v.consumed()) {
                        v.data().storage().close();
                    }
                }
                fn.release();
            }
        }
    }

    /** One contribution to leaf {@code v} is accounted for (made or skipped); its last one runs its hooks. */
    private static void settle(Map<Variable, Integer> owed, Variable v) {
        if (v == null || !v.isLeaf() || !v.requiresGrad()) {
            return;
        }
        owed.computeIfPresent(v, (k, n) -> n == 1 ? null : n - 1);
        v.contributionDone();
    }

    private static void reference(Map<Storage, Integer> references, Tensor t) {
        references.merge(t.storage(), 1, Integer::sum);
    }

    private static void release(Map<Storage, Integer> references, Tensor t) {
        references.computeIfPresent(t.storage(), (k, n) -> n == 1 ? null : n - 1);
    }

    /** Ops reachable from {@code root}, each after every op that consumes its output (reverse post-order). */
    private static List<Function> topologicalOrder(Function root) {
        List<Function> postOrder = new ArrayList<>();
        Set<Function> visited = Collections.newSetFromMap(new IdentityHashMap<>());
        // iterative DFS: deep graphs (long unrolled sequences) would overflow the Java stack
        ArrayDeque<Object[]> stack = new ArrayDeque<>();
        stack.push(new Object[] {root, 0});
        visited.add(root);
        while (!stack.isEmpty()) {
            Object[] frame = stack.peek();
            Function fn = (Function) frame[0];
            int next = (int) frame[1];
            Variable[] inputs = fn.inputs();
            if (next < inputs.length) {
                frame[1] = next + 1;
                Variable v = inputs[next];
                if (v != null && v.gradFn() != null && visited.add(v.gradFn())) {
                    stack.push(new Object[] {v.gradFn(), 0});
                }
            } else {
                stack.pop();
                postOrder.add(fn);
            }
        }
        Collections.reverse(postOrder);
        return postOrder;
    }
}
