package ai.fulgur.inference.server;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A strict reader of the Prometheus text format for tests: every line is a comment ({@code # HELP}/{@code # TYPE}) or
 * {@code name{labels} value}; samples are kept by their full series text.
 */
final class PrometheusSamples {
    private static final Pattern SAMPLE = Pattern.compile(
            "([a-zA-Z_:][a-zA-Z0-9_:]*(?:\\{[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\]|\\\\.)*\""
                    + "(?:,[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\]|\\\\.)*\")*\\})?) (\\S+)");
    private static final Pattern COMMENT = Pattern.compile(
            "# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram))");

    private final Map<String, Double> samples = new HashMap<>();

    static PrometheusSamples parse(String text) {
        PrometheusSamples s = new PrometheusSamples();
        assertTrue(text.endsWith("\n"), "exposition must end with a newline");
        for (String line : text.split("\n")) {
            if (line.startsWith("#")) {
                assertTrue(COMMENT.matcher(line).matches(), "bad comment line: " + line);
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            assertTrue(m.matches(), "bad sample line: " + line);
            String v = m.group(2);
            double value = v.equals("+Inf") ? Double.POSITIVE_INFINITY : v.equals("-Inf")
                    ? Double.NEGATIVE_INFINITY : Double.parseDouble(v);
            assertTrue(s.samples.put(m.group(1), value) == null, "duplicate series " + m.group(1));
        }
        return s;
    }

    double value(String series) {
        Double v = samples.get(series);
        if (v == null) {
            throw new AssertionError("no series " + series + " among " + samples.keySet());
        }
        return v;
    }
}
