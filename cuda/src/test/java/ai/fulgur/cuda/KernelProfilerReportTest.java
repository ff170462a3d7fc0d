package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The profiler's report arithmetic and table, host-side (no GPU). */
class KernelProfilerReportTest {

    @Test
    void rowsSumAndFormatAsATable() {
        KernelProfiler.Report r = new KernelProfiler.Report(List.of(new KernelProfiler.Row("gemm", 4, 2.0),
                new KernelProfiler.Row("copy_f32", 10, 0.5), new KernelProfiler.Row("fill_f64", 1, 0.25)), 5.0, 3);
        assertEquals(2.75, r.profiledMillis(), 1e-12);
        assertEquals(15, r.calls());
        assertEquals(500.0, r.row("gemm").meanMicros(), 1e-9, "2 ms over 4 calls");
        assertEquals(50.0, r.row("copy_f32").meanMicros(), 1e-9);
        assertNull(r.row("absent"));
        String table = r.format(2);
        String[] lines = table.split("\n");
        assertTrue(lines[0].startsWith("name"), table);
        assertTrue(lines[1].matches("gemm\\s+4\\s+2\\.000\\s+500\\.00\\s+40\\.0%"), lines[1]);
        assertTrue(lines[2].matches("copy_f32\\s+10\\s+0\\.500\\s+50\\.00\\s+10\\.0%"), lines[2]);
        assertTrue(lines[3].matches("\\(1 more names\\)\\s+1\\s+0\\.250\\s+5\\.0%"), lines[3]);
        assertTrue(lines[4].matches("all profiled work\\s+15\\s+2\\.750\\s+55\\.0%"), lines[4]);
        assertEquals("window 5.000 ms (event-timed), driver allocations 3", lines[5]);
    }
}
