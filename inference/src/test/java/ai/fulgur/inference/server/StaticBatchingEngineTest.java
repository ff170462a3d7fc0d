package ai.fulgur.inference.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.inference.engine.CompletionRequest;
import ai.fulgur.inference.engine.RequestOutput;
import ai.fulgur.inference.sampling.SamplingParams;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class StaticBatchingEngineTest {

    private static CompletionRequest request(String id, int maxTokens) {
        return new CompletionRequest(id, new int[] {1, 2, 3}, SamplingParams.greedy(maxTokens), 1, 1, false, -1,
                List.of());
    }

    private static List<String> ids(List<RequestOutput> outputs) {
        List<String> ids = new ArrayList<>();
        for (RequestOutput o : outputs) {
            ids.add(o.requestId() + (o.finished() ? "!" : ""));
        }
        return ids;
    }

    @Test
    void aBatchRunsToCompletionBeforeTheNextStarts() {
        StaticBatchingEngine e = new StaticBatchingEngine(new FakeEngine(new AsciiTokenizer(), 64, 64, 8, 0), 2);
        e.add(request("a", 1));
        e.add(request("b", 3));
        e.add(request("c", 1));
        assertEquals(3, e.stats().waiting());
        assertEquals(List.of("a!", "b"), ids(e.step())); // the batch is a and b
        assertEquals(1, e.stats().waiting()); // c is held back
        e.add(request("d", 1)); // arrives during the batch: waits too, although a's slot is free
        assertEquals(List.of("b"), ids(e.step()));
        assertEquals(List.of("b!"), ids(e.step()));
        assertEquals(List.of("c!", "d!"), ids(e.step()));
        assertFalse(e.hasUnfinished());
    }

    @Test
    void heldRequestsCanBeAbortedAndIdsStayUnique() {
        StaticBatchingEngine e = new StaticBatchingEngine(new FakeEngine(new AsciiTokenizer(), 64, 64, 8, 0), 1);
        e.add(request("a", 2));
        e.add(request("b", 2));
        assertThrows(IllegalArgumentException.class, () -> e.add(request("b", 2)));
        assertTrue(e.abort("b"));
        assertFalse(e.abort("b"));
        assertEquals(List.of("a"), ids(e.step()));
        assertEquals(List.of("a!"), ids(e.step()));
        assertFalse(e.hasUnfinished());
        assertThrows(IllegalArgumentException.class, () -> new StaticBatchingEngine(e, 0));
    }
}
