package ai.fulgur.ops.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What the CPU benchmarks share: the machine description for their rows, JSON string quoting, and defaults for system
 * properties.
 */
final class BenchSupport {
    private BenchSupport() {}

    /** Sets a system property unless the command line already did. */
    static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    /** The median of {@code x} (mean of the middle two for an even count). */
    static double median(double[] x) {
        double[] s = x.clone();
        java.util.Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** max |got − want| / max |want| (the plain max difference when want is all zeros). */
    static double relativeMaxDiff(float[] want, float[] got) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < want.length; i++) {
            diff = Math.max(diff, Math.abs(got[i] - want[i]));
            scale = Math.max(scale, Math.abs(want[i]));
        }
        return scale == 0 ? diff : diff / scale;
    }

    /** "model name (N cores, AVX-512)" from /proc/cpuinfo, or the OS architecture where that file is missing. */
    static String machine() {
        int cores = Runtime.getRuntime().availableProcessors();
        String model = null;
        String isa = "";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name") && model == null) {
                    model = line.substring(line.indexOf(':') + 1).trim();
                } else if (line.startsWith("flags") && isa.isEmpty()) {
                    String flags = " " + line.substring(line.indexOf(':') + 1).trim() + " ";
                    isa = flags.contains(" avx512f ") ? ", AVX-512" : flags.contains(" avx2 ") ? ", AVX2" : "";
                }
            }
        } catch (IOException e) {
            // not Linux: fall back to the architecture name below
        }
        return (model == null ? System.getProperty("os.arch") : model) + " (" + cores + " cores" + isa + ")";
    }

    /** s as a JSON string literal. */
    static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                default -> {
                    if (ch < 0x20) {
                        sb.append(String.format(Locale.ROOT, "\\u%04x", (int) ch));
                    } else {
                        sb.append(ch);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
