package ai.fulgur.cli;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * The {@code fulgur} command: {@code fulgur <command> [options]}. Each command is one class; this one only
 * dispatches and prints usage. Exit codes: 0 success, 1 failure while running, 2 bad usage.
 */
public final class Main {
    private static final Map<String, Command> COMMANDS = new TreeMap<>(Map.of(
            "train", new TrainCommand(),
            "tokenize", new TokenizeCommand(System.in),
            "prepare", new PrepareCommand(),
            "generate", new GenerateCommand(),
            "finetune", new FinetuneCommand(),
            "devices", new DevicesCommand(),
            "serve", new ServeCommand(),
            "bench", new BenchServeCommand()));

    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs a command line and returns its exit code (for tests). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help")) {
            usage(out);
            return 0;
        }
        Command command = COMMANDS.get(args[0]);
        if (command == null) {
            err.println("fulgur: unknown command '" + args[0] + "'");
            usage(err);
            return 2;
        }
        try {
            return command.run(Args.parse(Arrays.copyOfRange(args, 1, args.length)).withCommandLine(args), out, err);
        } catch (Args.UsageException e) {
            err.println("fulgur " + args[0] + ": " + e.getMessage());
            err.println(command.usage());
            return 2;
        } catch (Exception e) {
            err.println("fulgur " + args[0] + " failed: " + e);
            e.printStackTrace(err);
            return 1;
        }
    }

    private static void usage(PrintStream out) {
        out.println("usage: fulgur <command> [options]");
        out.println();
        out.println("commands:");
        for (Map.Entry<String, Command> e : COMMANDS.entrySet()) {
            out.printf("  %-10s %s%n", e.getKey(), e.getValue().summary());
        }
        out.println();
        out.println("Run 'fulgur <command> --help' for a command's options.");
    }
}
