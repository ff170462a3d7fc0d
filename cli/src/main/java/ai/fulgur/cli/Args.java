package ai.fulgur.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parsed {@code --name value} / {@code --name=value} / {@code --flag} options and positional words. Every option a
 * command reads is consumed; {@link #finish()} rejects the rest, so a misspelt option is an error, not ignored.
 */
final class Args {
    private final Map<String, String> options = new LinkedHashMap<>();
    private final List<String> positional = new ArrayList<>();
    private final Set<String> consumed = new java.util.HashSet<>();
    private List<String> commandLine = List.of();

    /** A usage mistake: wrong option, bad value. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }

    static Args parse(String[] argv) {
        Args a = new Args();
        for (int i = 0; i < argv.length; i++) {
            String s = argv[i];
            if (s.startsWith("--")) {
                String name = s.substring(2);
                String value = "true";
                int eq = name.indexOf('=');
                if (eq >= 0) {
                    value = name.substring(eq + 1);
                    name = name.substring(0, eq);
                } else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
                    value = argv[++i];
                }
                a.options.put(name, value);
            } else if (s.equals("-h")) {
                a.options.put("help", "true");
            } else {
                a.positional.add(s);
            }
        }
        return a;
    }

    /** The same options, remembering the whole command line (command name first) they came from. */
    Args withCommandLine(String[] argv) {
        commandLine = List.of(argv);
        return this;
    }

    /** The whole command line, command name first (to start the same command again, as data-parallel ranks). */
    List<String> commandLine() {
        return commandLine;
    }

    /** {@code --precision fp32|bf16|fp16}, or null when not given (the device's default then applies). */
    ai.fulgur.training.precision.Precision precision() {
        String name = string("precision", null);
        try {
            return name == null ? null : ai.fulgur.training.precision.Precision.parse(name);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    boolean help() {
        return flag("help");
    }

    boolean flag(String name) {
        consumed.add(name);
        String v = options.get(name);
        return v != null && !v.equals("false");
    }

    String string(String name, String fallback) {
        consumed.add(name);
        return options.getOrDefault(name, fallback);
    }

    int integer(String name, int fallback, int min) {
        consumed.add(name);
        String v = options.get(name);
        if (v == null) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(v);
            if (n < min) {
                throw new UsageException("--" + name + " must be >= " + min + ", got " + n);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " expects an integer, got '" + v + "'");
        }
    }

    double number(String name, double fallback, double min) {
        consumed.add(name);
        String v = options.get(name);
        if (v == null) {
            return fallback;
        }
        try {
            double x = Double.parseDouble(v);
            if (!(x >= min) || !Double.isFinite(x)) {
                throw new UsageException("--" + name + " must be a finite number >= " + min + ", got " + v);
            }
            return x;
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " expects a number, got '" + v + "'");
        }
    }

    List<String> positional() {
        return positional;
    }

    /** Fails on options no one read. */
    void finish() {
        for (String name : options.keySet()) {
            if (!consumed.contains(name)) {
                throw new UsageException("unknown option --" + name);
            }
        }
    }
}
