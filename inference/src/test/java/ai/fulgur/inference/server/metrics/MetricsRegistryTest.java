package ai.fulgur.inference.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class MetricsRegistryTest {

    @Test
    void rendersTheTextFormat() {
        MetricsRegistry r = new MetricsRegistry();
        Counter c = r.counter("demo_requests_total", "Requests.", "status");
        double[] level = {3.5};
        r.gauge("demo_level", "A level.", () -> level[0]);
        Histogram h = r.histogram("demo_seconds", "Latency.", 0.1, 1);
        c.inc("200");
        c.add(2, "200");
        c.inc("a\"b");
        h.observe(0.05);
        h.observe(0.1); // on a bound: counted in that bucket (le is inclusive)
        h.observe(7);
        assertEquals("""
                # HELP demo_requests_total Requests.
                # TYPE demo_requests_total counter
                demo_requests_total{status="200"} 3
                demo_requests_total{status="a\\"b"} 1
                # HELP demo_level A level.
                # TYPE demo_level gauge
                demo_level 3.5
                # HELP demo_seconds Latency.
                # TYPE demo_seconds histogram
                demo_seconds_bucket{le="0.1"} 2
                demo_seconds_bucket{le="1"} 2
                demo_seconds_bucket{le="+Inf"} 3
                demo_seconds_sum 7.15
                demo_seconds_count 3
                """, r.render());
    }

    @Test
    void misuseIsRefusedWithTheValue() {
        MetricsRegistry r = new MetricsRegistry();
        Counter c = r.counter("x_total", "x", "a");
        assertEquals("x_total: a counter only goes up, got an increment of -1.0",
                assertThrows(IllegalArgumentException.class, () -> c.add(-1, "v")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> c.inc());
        assertThrows(IllegalArgumentException.class, () -> r.counter("x_total", "again"));
        assertThrows(IllegalArgumentException.class, () -> r.counter("bad name", "x"));
        assertThrows(IllegalArgumentException.class, () -> r.histogram("h", "h", 1, 1));
    }
}
