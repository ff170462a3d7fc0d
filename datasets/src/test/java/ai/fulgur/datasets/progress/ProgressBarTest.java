package ai.fulgur.datasets.progress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.datasets.shard.ShardPreparer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Formatting against lines worked out by hand, and redraw timing under a fake clock. */
class ProgressBarTest {

    @Test
    void rendersBarPercentCountsRateEtaAndFields() {
        // 502,000 of 1,115,394 bytes is 45.007%: 9 of 20 cells filled; 613,394 bytes left at 251,000 B/s = 2.44 s
        String line = ProgressBar.render("prepare", 502_000, 1_115_394, "B", 251_000, 2.0, Map.of("docs", "3"), 20);
        assertEquals("prepare  45.0% [=========>          ] 502k/1.12M B  251k B/s  ETA 0:02  docs=3", line);
    }

    @Test
    void rendersFinishedAndUnknownTotals() {
        Map<String, String> fields = new LinkedHashMap<>();
        fields.put("loss", "3.210");
        fields.put("lr", "6.000e-04");
        assertEquals("train 100.0% [==========] 50/50 it  2.50 it/s  ETA 0:00  loss=3.210  lr=6.000e-04",
                ProgressBar.render("train", 50, 50, "it", 2.5, 20.0, fields, 10));
        assertEquals("read 12.3k tok  ? tok/s  1:01:05",
                ProgressBar.render("read", 12_345, 0, "tok", 0, 3665, Map.of(), 10));
        assertEquals("x   0.0% [>   ] 0/7  ?/s  ETA ?", ProgressBar.render("x", 0, 7, "", 0, 0, Map.of(), 4));
    }

    @Test
    void numbersAreCompact() {
        assertEquals("0", ProgressBar.compact(0));
        assertEquals("9999", ProgressBar.compact(9999));
        assertEquals("2.50", ProgressBar.compact(2.5));
        assertEquals("10.0k", ProgressBar.compact(10_000));
        assertEquals("999k", ProgressBar.compact(999_499));
        assertEquals("1.00M", ProgressBar.compact(999_500));
        assertEquals("1.50G", ProgressBar.compact(1.5e9));
        assertEquals("0:00", ProgressBar.duration(0));
        assertEquals("1:00", ProgressBar.duration(59.6));
        assertEquals("1:00:00", ProgressBar.duration(3600));
        assertEquals("1:02:05", ProgressBar.duration(3725));
        assertEquals("3.210", ProgressBar.formatNumber(3.21049));
        assertEquals("0.02500", ProgressBar.formatNumber(0.025));
        assertEquals("6.000e-05", ProgressBar.formatNumber(6e-5));
        assertEquals("1.235e+05", ProgressBar.formatNumber(123_456));
        assertEquals("0.000", ProgressBar.formatNumber(0));
        assertEquals("2.500", ProgressBar.formatNumber(2.5));
        assertEquals("12350", ProgressBar.formatNumber(12_345.6));
        assertEquals("[=====]", ProgressBar.bar(1.0, 5));
        assertEquals("[==>  ]", ProgressBar.bar(0.5, 5));
    }

    @Test
    void terminalRedrawsInPlaceAtMostEvery100Ms() {
        AtomicLong nanos = new AtomicLong();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ProgressBar bar = ProgressBar.builder("job").setTotal(100).optUnit("")
                .optOutput(new PrintStream(bytes, true, StandardCharsets.UTF_8)).optTerminal(true)
                .clock(nanos::get).build();
        nanos.set(1_000_000_000L);
        bar.update(10); // first update: drawn at once
        nanos.addAndGet(50_000_000L);
        bar.update(20); // 50 ms later: skipped
        nanos.addAndGet(60_000_000L);
        bar.set("loss", 2.5);
        bar.update(30); // 110 ms after the first draw: drawn
        bar.close();
        bar.update(40); // after close: ignored
        String out = bytes.toString(StandardCharsets.UTF_8);
        String[] draws = out.split("\r", -1);
        assertEquals(4, draws.length, out); // "", first, third, final
        assertTrue(draws[1].startsWith("job  10.0% "), draws[1]);
        assertTrue(draws[2].startsWith("job  30.0% ") && draws[2].endsWith("loss=2.500"), draws[2]);
        assertTrue(draws[3].endsWith("\n"), "close() ends the line");
        assertEquals(30, bar.done());
    }

    @Test
    void terminalPadsOverALongerPreviousLine() {
        AtomicLong nanos = new AtomicLong();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ProgressBar bar = ProgressBar.builder("j").optOutput(new PrintStream(bytes, true, StandardCharsets.UTF_8))
                .optTerminal(true).clock(nanos::get).build();
        bar.update(0, Map.of("note", "a long field value"));
        bar.set("note", "x");
        nanos.addAndGet(1_000_000_000L);
        bar.update(1);
        String[] draws = bytes.toString(StandardCharsets.UTF_8).split("\r", -1);
        assertEquals(draws[1].length(), draws[2].length(), "the shorter line is padded to cover the longer one");
        assertTrue(draws[2].contains("note=x "), draws[2]);
    }

    @Test
    void plainOutputPrintsALineEachIntervalAndAtTheEnd() {
        AtomicLong nanos = new AtomicLong();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ProgressBar bar = ProgressBar.builder("prepare").optUnit("B")
                .optOutput(new PrintStream(bytes, true, StandardCharsets.UTF_8)).optTerminal(false)
                .optPlainInterval(Duration.ofSeconds(10)).clock(nanos::get).build();
        ShardPreparer.ProgressListener listener = bar::update; // the total arrives with the updates
        for (int second = 1; second <= 25; second++) {
            nanos.set(second * 1_000_000_000L);
            listener.update(second * 10L, 1000);
        }
        bar.close();
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertFalse(out.contains("\r"), out);
        String[] lines = out.split("\n");
        // at 10 s and 20 s, then the final line at 25 s: 250 B at 10 B/s, 750 B left = 75 s
        assertEquals(3, lines.length, out);
        assertEquals("prepare  10.0% [==>                     ] 100/1000 B  10 B/s  ETA 1:30", lines[0]);
        assertEquals("prepare  25.0% [======>                 ] 250/1000 B  10 B/s  ETA 1:15", lines[2]);
    }
}
